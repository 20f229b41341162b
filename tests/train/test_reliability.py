"""Crashes and damage: a run always continues from its last complete, sound checkpoint."""

import json

from ganforge.cli import main
from ganforge.train.checkpoint import list_checkpoints, load_checkpoint

TOY = ["model.g_hidden=[16]", "model.d_hidden=[16]", "data.n_toy=1000", "train.batch_size=32",
       "log.tensorboard=false", "log.sample_every=1000", "log.checkpoint_every=3", "log.every=3",
       "log.keep_checkpoints=3"]


def toy_argv(run, steps):
    return ["train", "--config", "toy-ring", "--out", str(run), "--steps", str(steps), "--quiet",
            *[a for t in TOY for a in ("--set", t)]]


def test_resume_passes_over_a_damaged_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(toy_argv(run, 9)) == 0
    newest = list_checkpoints(run)[-1]
    (newest / "model.safetensors").write_bytes(b"\0" * 10)  # a disk error
    assert main(["train", "--resume", str(run), "--steps", "12", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "step_000009 is damaged (model.safetensors does not match its sha256); using an earlier one" in err
    _, _, meta = load_checkpoint(list_checkpoints(run)[-1])
    assert meta["step"] == 12
    steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert steps == [3, 6, 9, 12]  # resumed from step 6: its later lines were rewritten, not duplicated


def test_checkpoint_every_flag(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*toy_argv(run, 4), "--checkpoint-every", "2"]) == 0
    assert [p.name for p in list_checkpoints(run)] == ["step_000002", "step_000004"]
    assert main([*toy_argv(tmp_path / "bad", 4), "--checkpoint-every", "0"]) == 2
    assert "log.checkpoint_every' must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
