"""The loop runs any family from its declarations alone: groups, phases (repeat, every, freeze, data) and
one loss per phase. A family written here, unknown to the package, proves it."""

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.families import FAMILIES, Family, Phase
from ganforge.runs import load_data
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer, train


class Probe(Family):
    """Three groups; phase "a" twice per iteration on fresh batches, "b" on the last batch with "A" frozen,
    "c" every third iteration. Each loss records what the loop handed it."""

    GROUPS = ("A", "B", "C")
    SAMPLER = "A"

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.A, self.B, self.C = nn.Linear(2, 2), nn.Linear(2, 1), nn.Linear(2, 1)
        self.networks = {"A": self.A, "B": self.B, "C": self.C}
        self.calls = []

    def phases(self):
        return [Phase("a", "A", repeat=2), Phase("b", "B", freeze=("A",), data=False), Phase("c", "C", every=3)]

    def loss(self, phase, batch, step):
        frozen = not self.A.weight.requires_grad
        self.calls.append((phase, step.index, batch.x.data_ptr(), frozen, step.images_seen))
        net = {"a": self.A, "b": self.B, "c": self.C}[phase]
        out = net(self.A(batch.x)) if phase != "a" else net(batch.x)
        return out.pow(2).mean(), {f"loss_{phase}": out.pow(2).mean().detach()}

    def noise(self, n, generator):
        return {"z": torch.randn(n, 2, generator=generator, device=generator.device)}

    def decode(self, inputs, **options):
        return self.sampler()(inputs["z"])


@pytest.fixture
def probe(monkeypatch):
    import dataclasses

    monkeypatch.setitem(FAMILIES, "probe", Probe)
    cfg = load_config("toy-ring", ["model.family=probe", "family={}", "data.n_toy=500", "train.batch_size=10",
                                   "log.tensorboard=false", "train.ema=0.5", "optim.a.lr=1e-2"])  # family: is the GAN's
    groups = {"a": cfg.optim.groups["a"]}  # the preset's optim.g and optim.d belong to the GAN
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, groups=groups))


def test_phases_run_in_order_with_their_repeats_intervals_batches_and_freezes(probe):
    trainer = build_trainer(probe, load_data(probe))
    before = {k: v.detach().clone() for k, v in trainer.family.state_dict().items()}
    for _ in range(4):
        trainer.train_step(RunningStats())
    calls = trainer.family.calls
    assert [c[0] for c in calls] == ["a", "a", "b", "c", "a", "a", "b", "a", "a", "b", "a", "a", "b", "c"]
    assert [c[1] for c in calls if c[0] == "c"] == [0, 3]  # every 3 iterations, from the first
    a1, a2, b, c = calls[:4]
    assert a1[2] != a2[2] and b[2] == a2[2] and c[2] != b[2]  # repeats draw fresh batches; b reuses the last
    assert (a1[3], b[3], c[3]) == (False, True, False)  # A frozen in b only, and unfrozen after it
    assert trainer.images_seen == 10 * (3 + 2 + 2 + 3)
    assert set(trainer.optimizers) == {"A", "B", "C"}
    after = trainer.family.state_dict()
    assert all(not torch.equal(before[f"{n}.weight"], after[f"{n}.weight"]) for n in "ABC")
    assert trainer.ema is not None and trainer.family.A_ema is trainer.ema.shadow


def test_a_new_family_trains_checkpoints_and_resumes_exactly(probe, tmp_path):
    import dataclasses

    from ganforge.checkpoint import latest_checkpoint, load_checkpoint

    run = tmp_path / "whole"
    cfg = dataclasses.replace(probe, train=dataclasses.replace(probe.train, steps=8),
                              log=dataclasses.replace(probe.log, checkpoint_every=4))
    train(cfg, run, quiet=True)
    half = tmp_path / "half"
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=4)), half, quiet=True)
    train(cfg, half, resume=True, quiet=True)
    a, _, meta = load_checkpoint(latest_checkpoint(run))
    b, _, _ = load_checkpoint(latest_checkpoint(half))
    assert meta["step"] == 8 and set(meta["optimizers"]) == {"A", "B", "C"}
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.startswith("A_ema.") for k in a)
