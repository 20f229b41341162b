"""The divergence guard: NaN injected mid-run is rolled back; repeated NaN ends the run cleanly."""

import json

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import TrainingDiverged
from ganforge.families.gan import GAN
from ganforge.runs import read_metrics
from ganforge.training.loop import train

TOY = ["family.g_hidden=[16]", "family.d_hidden=[16]", "data.n_toy=1000", "train.batch_size=32",
       "log.tensorboard=false", "log.sample_every=1000", "log.checkpoint_every=3", "log.every=2",
       "train.steps=12"]


def poison_d_loss(monkeypatch, poisoned_calls):
    """Make D's loss NaN on the given call numbers (counted across the whole run, rollbacks included)."""
    original, calls = GAN.d_loss, {"n": 0}

    def d_loss(self, real, z):
        loss, stats = original(self, real, z)
        calls["n"] += 1
        if poisoned_calls(calls["n"]):
            loss = loss * float("nan")
            stats = {**stats, "loss_d": loss.detach()}
        return loss, stats

    monkeypatch.setattr(GAN, "d_loss", d_loss)


def finite(tensors):
    return all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_a_nan_mid_run_is_rolled_back_and_the_run_completes(tmp_path, monkeypatch, capsys):
    poison_d_loss(monkeypatch, lambda n: n == 8)  # step 8's D step
    summary = train(load_config("toy-ring", TOY), tmp_path / "run", quiet=True)
    assert summary["steps"] == 12
    events = [r for r in read_metrics(tmp_path / "run") if "event" in r]
    assert events == [{"step": 6, "event": "rollback", "reason": "loss_d, loss_g not finite at step 8",
                       "to": "step_000006", "lr_scale": 0.5}]
    model, _, meta = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert finite(model) and meta["step"] == 12 and meta["rollbacks"] == 1 and meta["lr_scale"] == 0.5
    steps = [r["step"] for r in read_metrics(tmp_path / "run") if "loss_d" in r]
    assert steps == [2, 4, 6, 8, 10, 12]  # the NaN line at step 8 was dropped with the rollback
    assert "rollback at step 6" in capsys.readouterr().err


def test_repeated_divergence_stops_with_a_clear_error_and_keeps_the_good_checkpoint(tmp_path, monkeypatch, capsys):
    poison_d_loss(monkeypatch, lambda n: n >= 8)
    run = tmp_path / "run"
    argv = ["train", "--config", "toy-ring", "--out", str(run), "--quiet"] + [a for t in TOY for a in ("--set", t)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ganforge train: error: training diverged after 3 rollback(s): loss_d")
    assert "the last good checkpoint is" in err and "step_000006" in err and "lower optim.g.lr" in err
    assert [p.name for p in list_checkpoints(run)] == ["step_000003", "step_000006"]
    model, _, _ = load_checkpoint(latest_checkpoint(run))
    assert finite(model)  # the NaN state never replaced it
    events = [r["event"] for r in read_metrics(run) if "event" in r]
    assert events == ["rollback", "rollback", "rollback", "diverged"]


def test_stop_mode_and_divergence_before_the_first_checkpoint(tmp_path, monkeypatch):
    poison_d_loss(monkeypatch, lambda n: n == 2)
    with pytest.raises(TrainingDiverged, match="no checkpoint was written before it"):
        train(load_config("toy-ring", TOY), tmp_path / "early", quiet=True)
    poison_d_loss(monkeypatch, lambda n: n == 8)
    with pytest.raises(TrainingDiverged, match="at step 8"):
        train(load_config("toy-ring", [*TOY, "train.on_divergence=stop"]), tmp_path / "stop", quiet=True)


def test_nan_weights_are_caught_before_a_checkpoint_even_between_log_steps(tmp_path, monkeypatch):
    # log every 100 steps: only the weight check before the checkpoint at step 9 can see the NaN of step 8
    poison_d_loss(monkeypatch, lambda n: n == 8)
    cfg = load_config("toy-ring", [*TOY, "log.every=100"])
    train(cfg, tmp_path / "run", quiet=True)
    events = [r for r in read_metrics(tmp_path / "run") if "event" in r]
    assert [(e["event"], e["to"], e["reason"]) for e in events] == [
        ("rollback", "step_000006", "weights not finite at step 9")]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 12
