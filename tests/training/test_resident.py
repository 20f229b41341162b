import pytest
import torch

from ganforge.training.resident import ResidentData


def test_each_epoch_visits_every_example_once():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    data = ResidentData(x, None, torch.device("cpu"), seed=0)
    seen = torch.cat([data.next_batch(4).x for _ in range(5)])[:, 0]  # 20 = two epochs
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:].tolist()) == list(range(10))
    assert data.epoch == 1 and data.position == 10
    assert not torch.equal(seen[:10], seen[10:])  # a new order each epoch


def test_uint8_images_become_minus_one_to_one_and_labels_follow():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8).view(3, 1, 1, 1)
    y = torch.tensor([5, 6, 7])
    data = ResidentData(x, y, torch.device("cpu"), seed=1)
    batch = data.next_batch(3)
    values = {round(v, 4): int(label) for v, label in zip(batch.x.flatten().tolist(), batch.y.tolist())}
    assert values == {-1.0: 5, 1.0: 6, round(128 / 127.5 - 1, 4): 7}
    assert batch.x.dtype == torch.float32


def test_state_round_trip_continues_the_same_order():
    x = torch.arange(7, dtype=torch.float32)[:, None]
    a = ResidentData(x, None, torch.device("cpu"), seed=3)
    a.next_batch(5)
    state = a.state_dict()
    expected = torch.cat([a.next_batch(3).x for _ in range(4)])
    b = ResidentData(x, None, torch.device("cpu"), seed=99)
    b.load_state_dict(state)
    assert torch.equal(torch.cat([b.next_batch(3).x for _ in range(4)]), expected)


def test_paired_fields_share_one_permutation():
    from ganforge.training.resident import ResidentData

    x = torch.arange(12, dtype=torch.float32)[:, None]
    data = ResidentData(x, None, torch.device("cpu"), seed=0, target=-x)
    for _ in range(5):  # across an epoch boundary too
        batch = data.next_batch(5)
        assert torch.equal(batch["target"], -batch.x)


def test_unpaired_domains_draw_independent_orders_and_resume():
    from ganforge.training.resident import ResidentData, UnpairedData

    x = torch.arange(10, dtype=torch.float32)[:, None]
    data = UnpairedData({"A": ResidentData(x, None, torch.device("cpu"), seed=1),
                         "B": ResidentData(x + 100, None, torch.device("cpu"), seed=2)})
    batch = data.next_batch(10)
    assert set(batch) == {"x_A", "x_B"}
    assert sorted(batch.x_A[:, 0].tolist()) == list(range(10))
    assert not torch.equal(batch.x_A, batch.x_B - 100)  # each domain in its own order
    state = data.state_dict()
    expected = data.next_batch(7)
    again = UnpairedData({"A": ResidentData(x, None, torch.device("cpu"), seed=5),
                          "B": ResidentData(x + 100, None, torch.device("cpu"), seed=6)})
    again.load_state_dict(state)
    got = again.next_batch(7)
    assert torch.equal(got.x_A, expected.x_A) and torch.equal(got.x_B, expected.x_B)


def test_a_batch_reads_by_name_and_attribute():
    from ganforge.data.spec import Batch

    b = Batch(torch.zeros(3, 2), caption=torch.ones(3, 4))
    assert b.y is None and "y" not in b and b["caption"].shape == (3, 4) and len(b) == 3
    with pytest.raises(KeyError):
        b["y"]
