import pytest
import torch
from safetensors.torch import load_file, save_file

from ganforge.replay import ReplayBuffer


def rows_in(rows: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """For each row of `rows`, whether it equals some row of `pool`."""
    return (rows.flatten(1)[:, None] == pool.flatten(1)[None]).all(2).any(1)


def test_returns_the_input_until_the_buffer_holds_enough():
    buf = ReplayBuffer(capacity=100, mix=0.5)
    fake = torch.randn(8, 3, requires_grad=True)
    out = buf.mix_in(fake)
    assert torch.equal(out, fake) and not out.requires_grad
    buf.push(torch.randn(3, 3))  # 3 stored < round(0.5 * 8) = 4 needed
    assert torch.equal(buf.mix_in(fake), fake)
    buf.push(torch.randn(1, 3))
    assert not torch.equal(buf.mix_in(fake), fake)


@pytest.mark.parametrize("mix, n, k", [(0.5, 8, 4), (0.25, 10, 2), (0.3, 5, 2), (1.0, 6, 6)])
def test_replaces_round_mix_n_rows_with_stored_samples(mix, n, k):
    buf = ReplayBuffer(capacity=20, mix=mix, seed=3)
    for _ in range(4):
        buf.push(torch.randn(n, 2, 2))
    stored = buf.state_dict()["samples"]
    assert len(stored) == len(buf) == min(20, 4 * n)
    fresh = torch.randn(n, 2, 2) + 100  # far from anything stored
    out = buf.mix_in(fresh)
    changed = (out != fresh).flatten(1).any(1)
    assert changed.sum().item() == k
    assert rows_in(out[changed], stored).all()
    assert torch.equal(out[~changed], fresh[~changed])
    assert len({tuple(r.flatten().tolist()) for r in out[changed]}) == k  # no stored sample twice


def test_mix_zero_never_changes_the_input():
    buf = ReplayBuffer(capacity=10, mix=0.0)
    for _ in range(5):
        fake = torch.randn(4, 3)
        assert torch.equal(buf.mix_in(fake), fake)
        buf.push(fake)


def test_capacity_and_random_replacement():
    buf = ReplayBuffer(capacity=5, mix=0.5, seed=1)
    buf.push(torch.arange(3.0)[:, None])
    buf.push(torch.arange(3.0, 7.0)[:, None])  # 2 appended, 2 replace random slots
    stored = buf.state_dict()["samples"]
    assert len(buf) == 5 and stored.shape == (5, 1)
    # 3 and 4 fill slots 3 and 4; 5 and 6 then overwrite random slots, 6 last so it survives
    assert all(v in (i, 5.0, 6.0) for i, v in enumerate(stored.flatten().tolist()))
    assert 6.0 in stored
    # each later sample lands in a uniformly random slot: count the slots that change over many pushes
    buf = ReplayBuffer(capacity=10, mix=0.5, seed=2)
    buf.push(torch.full((10, 1), -1.0))
    hits = torch.zeros(10)
    for i in range(2000):
        before = buf.state_dict()["samples"]
        buf.push(torch.tensor([[float(i)]]))
        hits += (buf.state_dict()["samples"] != before).flatten()
    assert hits.sum() == 2000 and hits.min() > 150 and hits.max() < 250  # ~200 each, not FIFO order


def test_later_sample_wins_a_slot_drawn_twice():
    buf = ReplayBuffer(capacity=2, mix=0.5, seed=0)
    buf.push(torch.tensor([[-1.0], [-2.0]]))
    buf.push(torch.arange(10.0)[:, None])  # 10 draws over 2 slots: both slots end with the last writer
    stored = buf.state_dict()["samples"].flatten().tolist()
    # replay the slot draws with the same generator to find the last writer of each slot
    gen = torch.Generator().manual_seed(0)
    slots = torch.randint(2, (10,), generator=gen).tolist()
    expected = [-1.0, -2.0]
    for i, s in enumerate(slots):
        expected[s] = float(i)
    assert stored == expected


def test_independent_of_the_global_rng():
    outs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        buf = ReplayBuffer(capacity=6, mix=0.5, seed=7)
        data = torch.arange(40.0).reshape(10, 4, 1)
        seq = []
        for batch in data:
            seq.append(buf.mix_in(batch))
            buf.push(batch)
        outs.append(torch.stack(seq))
    assert torch.equal(outs[0], outs[1])


def test_state_round_trip_is_bit_exact(tmp_path):
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 2, 3, 3, generator=gen) for _ in range(12)]
    a = ReplayBuffer(capacity=20, mix=0.5, seed=5)
    for x in batches[:6]:
        a.mix_in(x)
        a.push(x)
    save_file(a.state_dict(), str(tmp_path / "replay.safetensors"))
    b = ReplayBuffer(capacity=20, mix=0.5, seed=99)  # a different seed: the saved generator state must win
    b.load_state_dict(load_file(str(tmp_path / "replay.safetensors")))
    assert len(b) == len(a) == 20
    for x in batches[6:]:
        out_a, out_b = a.mix_in(x), b.mix_in(x)
        assert torch.equal(out_a, out_b) and not torch.equal(out_a, x)
        a.push(x)
        b.push(x)
    assert torch.equal(a.state_dict()["samples"], b.state_dict()["samples"])


def test_empty_state_round_trips():
    b = ReplayBuffer(capacity=4, mix=0.5)
    b.load_state_dict(ReplayBuffer(capacity=4, mix=0.5).state_dict())
    assert len(b) == 0 and torch.equal(b.mix_in(torch.ones(2, 1)), torch.ones(2, 1))


def test_validation():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity=0, mix=0.5)
    for mix in (-0.1, 1.5):
        with pytest.raises(ValueError, match="mix"):
            ReplayBuffer(capacity=4, mix=mix)
    buf = ReplayBuffer(capacity=4, mix=0.5)
    buf.push(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="shape"):
        buf.push(torch.zeros(2, 4))
