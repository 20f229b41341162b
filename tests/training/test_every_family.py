"""The same guarantees for every family, each from its own preset at a tiny size: a run stopped by Ctrl-C
writes a checkpoint, and N + N steps equal 2N bit for bit (weights, optimiser state, EMA, replay pools, ADA's
p, progressive growing's level and fade, the text encoder, the data order); a SIGKILL at a random moment
loses at most a checkpoint interval and the run resumes to its target; an injected NaN is rolled back."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge.checkpoint import checkpoint_problem, latest_checkpoint, list_checkpoints, load_checkpoint
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.families import FAMILIES
from ganforge.runs import read_metrics
from ganforge.training.loop import train
from ganforge.training.trainer import Trainer

from . import tiny_data

QUIET = ["log.tensorboard=false", "log.sample_every=1000", "eval.every=0", "log.every=1"]

# family: (preset, tiny settings, the ../shared/data set it needs or None, what its state must carry)
TINY = {
    "gan": ("default", ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "train.batch_size=8",
                        "family.replay=16", "train.augment=ada", "train.ada_kimg=0.01", "train.ada_interval=1"],
            None, ["family.augment.p", "family.replay.samples"]),
    "aae": ("aae-mnist", ["data.name=fashion-mnist-10k", "data.holdout=0", "family.hidden=[32]", "family.code_dim=4",
                          "train.batch_size=8"], None, []),
    "vaegan": ("vaegan-fashion", ["data.name=fashion-mnist-10k", "family.g_width=8", "family.d_width=8",
                                  "family.z_dim=8", "train.batch_size=8"], None, []),
    "pix2pix": ("pix2pix-fashion-edges", ["family.g_width=4", "family.d_width=4", "data.subset=64",
                                          "train.batch_size=4"], "fashion-mnist", []),
    "cyclegan": ("cyclegan-mnist-colour", ["family.g_width=4", "family.d_width=8", "family.blocks=1", "family.pool=6",
                                           "data.subset=40", "train.batch_size=4", "optim.decay=none"], "mnist",
                 ["family.pool_A.samples", "data_B.order"]),
    "srgan": ("srgan-fashion-sr4", ["family.g_width=8", "family.d_width=8", "family.blocks=1", "family.init=",
                                    "data.subset=64", "train.batch_size=4"], "fashion-mnist", []),
    "progan": ("progan-fashion", ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "family.max_channels=16",
                                  "family.images_per_phase=32", "family.batch_sizes=[8,8,8]"], None, []),
    "stylegan": ("stylegan-fashion", ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "family.w_dim=16",
                                      "family.mapping_layers=2", "family.max_channels=16", "family.r1_every=2",
                                      "train.batch_size=4"], None, ["G.w_avg"]),
    "text2image": ("text2image-fashion", ["family.g_width=8", "family.d_width=8", "family.z_dim=8",
                                          "family.pretrain_steps=5", "family.pretrain_batch=16",
                                          "train.batch_size=8"], "fashion-mnist", ["family.d_steps_done", "T.words.weight"]),
    "video": ("video-moving-mnist", ["family.width=8", "family.d_width=8", "train.batch_size=4"], "mnist", []),
}


def test_the_table_covers_every_family():
    assert set(TINY) == set(FAMILIES)


@pytest.fixture
def tiny(request, shared, monkeypatch):
    """tiny(family, *more): the family's preset at its tiny size, with its data where the tests can find it."""
    tiny_data.shrink(monkeypatch.setattr)

    def config(family: str, *more: str):
        preset, settings, data, _ = TINY[family]
        if data:
            monkeypatch.setenv("GANFORGE_DATA", str(shared(data).parent))
        return load_config(preset, [*settings, *QUIET, *more])

    return config


def tensors_at(run, step):
    model, state, meta = load_checkpoint(run / "checkpoints" / f"step_{step:06d}")
    assert meta["step"] == step
    return model, state


def assert_equal_tensors(a: dict, b: dict):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ after resume: {different[:5]}"


def stop_with_sigint_after(monkeypatch, step: int):
    """Ctrl-C once the trainer has finished `step`, as a user would press it mid-run."""
    original = Trainer.train_step

    def train_step(self, stats):
        original(self, stats)
        if self.step == step:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    return original


@pytest.mark.parametrize("family", sorted(TINY))
def test_ctrl_c_saves_and_n_plus_n_steps_equal_2n_bit_for_bit(family, tiny, tmp_path, monkeypatch):
    cfg = tiny(family, "train.steps=6", "log.checkpoint_every=4")  # straight: checkpoints at 4 and 6 only
    train(cfg, tmp_path / "straight", quiet=True)
    original = stop_with_sigint_after(monkeypatch, 3)
    summary = train(cfg, tmp_path / "stopped", quiet=True)
    monkeypatch.setattr(Trainer, "train_step", original)
    assert summary["stopped"] == {"signal": "SIGINT", "target": 6} and summary["steps"] == 3
    assert [p.name for p in list_checkpoints(tmp_path / "stopped")] == ["step_000003"]  # written by the stop
    at_stop, _ = tensors_at(tmp_path / "stopped", 3)
    train(cfg, tmp_path / "stopped", resume=True, quiet=True)
    (model_a, state_a), (model_b, state_b) = tensors_at(tmp_path / "straight", 6), tensors_at(tmp_path / "stopped", 6)
    assert_equal_tensors(model_a, model_b)
    assert_equal_tensors(state_a, state_b)
    for key in TINY[family][3]:  # the state this family carries between steps is in the checkpoint
        assert key in state_a or key in model_a, f"{key} is not saved"
    if family == "progan":  # the second half grew a level and faded it in: level and alpha resumed exactly
        assert at_stop["G.growth"][0] == 0 and model_a["G.growth"][0] == 1 and 0 < model_a["G.growth"][1] < 1


@pytest.mark.parametrize("family", sorted(TINY))
def test_a_nan_is_rolled_back_and_the_run_completes(family, tiny, tmp_path, monkeypatch):
    cfg = tiny(family, "train.steps=6", "log.checkpoint_every=2")
    original, poisoned = Trainer.train_step, []

    def train_step(self, stats):
        original(self, stats)
        if self.step == 3 and not poisoned:  # a weight of the sampled network turns NaN, once
            poisoned.append(True)
            with torch.no_grad():
                next(self.family.sampler().parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "train_step", train_step)
    summary = train(cfg, tmp_path / "run", quiet=True)
    events = [r for r in read_metrics(tmp_path / "run") if "event" in r]
    assert [(e["event"], e["to"]) for e in events] == [("rollback", "step_000002")]
    assert summary["steps"] == 6
    model, _, meta = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert meta["step"] == 6 and meta["rollbacks"] == 1
    assert all(torch.isfinite(t).all() for t in model.values() if t.is_floating_point())


def test_sigkill_at_a_random_moment_then_resume_reaches_the_target(tiny, tmp_path):
    """Every family's run, each in its own process (all at once: the machine's cores are shared out), is killed
    at a seeded random moment once it has written a checkpoint; each then resumes to two steps past the last
    complete checkpoint, with nothing logged twice."""
    rng, procs = random.Random(0), {}
    prelude = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import tiny_data; "
               "tiny_data.shrink(); from ganforge.cli import main")
    for family, (preset, settings, _, _) in TINY.items():
        tiny(family)  # the data's location, inherited by the process
        argv = ["train", "--config", preset, "--out", str(tmp_path / family), "--steps", "100000", "--quiet",
                "--checkpoint-every", "1", *[a for s in [*settings, *QUIET, "log.keep_checkpoints=2"]
                                              for a in ("--set", s)]]
        proc = subprocess.Popen([sys.executable, "-c", f"{prelude}; raise SystemExit(main({argv!r}))"],
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        procs[family] = [proc, None]  # the moment to kill it, once it has a checkpoint
    deadline = time.monotonic() + 300
    try:
        while any(p.returncode is None for p, _ in procs.values()) and time.monotonic() < deadline:
            for family, entry in procs.items():
                proc, kill_at = entry
                if proc.poll() is not None:
                    continue
                if kill_at is None and list_checkpoints(tmp_path / family):
                    entry[1] = time.monotonic() + rng.uniform(0.0, 0.5)
                elif kill_at is not None and time.monotonic() >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
            time.sleep(0.01)
    finally:
        for proc, _ in procs.values():
            proc.kill()
            proc.wait()
    for family, (proc, _) in procs.items():
        errors = proc.stderr.read().decode()[-2000:]
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, f"{family}: {errors}"
    for family in TINY:
        run = tmp_path / family
        tiny(family)
        saved = list_checkpoints(run)
        assert saved and all(checkpoint_problem(p) is None for p in saved), family  # complete checkpoints only
        target = int(saved[-1].name.split("_")[1]) + 2
        assert main(["train", "--resume", str(run), "--steps", str(target), "--quiet"]) == 0, family
        steps = [r["step"] for r in read_metrics(run) if "event" not in r]
        assert steps == sorted(set(steps)) and steps[-1] == target, family  # nothing logged twice across the kill
        assert json.loads((run / "summary.json").read_text())["steps"] == target
