"""Crashes and damage: a run always continues from its last complete, sound checkpoint."""

import json

from ganforge.checkpoint import list_checkpoints, load_checkpoint
from ganforge.cli import main

TOY = ["family.g_hidden=[16]", "family.d_hidden=[16]", "data.n_toy=1000", "train.batch_size=32",
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


def test_sigkill_at_random_moments_never_costs_more_than_a_checkpoint_interval(tmp_path):
    """Kill a training process with SIGKILL 6 times, at seeded random moments once it is training
    (checkpoints are written every step, so many kills land inside a checkpoint write); each restart resumes
    from the last complete checkpoint, and the run finishes with every checkpoint sound and its metrics in
    order."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    from ganforge.checkpoint import checkpoint_problem

    run, steps = tmp_path / "run", 800  # far more than 6 kills let it reach, even on a fast machine
    argv = [sys.executable, "-m", "ganforge", *toy_argv(run, steps), "--checkpoint-every", "1"]
    argv[argv.index("log.keep_checkpoints=3")] = "log.keep_checkpoints=2"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(7)
    reached = []
    for kill in range(7):
        cmd = argv if kill == 0 else [sys.executable, "-m", "ganforge", "train", "--resume", str(run), "--quiet"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kill == 6:  # the last start runs to the end
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()[-2000:]
            break
        # wait until this process has written a checkpoint of its own, then kill it a random moment later
        before = list_checkpoints(run)[-1].name if run.is_dir() and list_checkpoints(run) else ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            saved = list_checkpoints(run) if run.is_dir() else []
            if saved and saved[-1].name > before:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        saved = list_checkpoints(run)
        reached.append(int(saved[-1].name.split("_")[1]) if saved else 0)
        assert all(checkpoint_problem(p) is None for p in saved)  # complete ones only, never a torn one
    assert reached == sorted(reached) and reached[0] > 0  # progress was kept across kills
    final = list_checkpoints(run)
    assert [p.name for p in final] == [f"step_{steps - 1:06d}", f"step_{steps:06d}"]
    _, _, meta = load_checkpoint(final[-1])
    assert meta["step"] == steps
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(3, steps + 1, 3)) + ([steps] if steps % 3 else [])


def test_a_crash_inside_a_checkpoint_write_leaves_the_previous_one_and_resume_clears_the_rest(tmp_path,
                                                                                                monkeypatch):
    from ganforge import checkpoint

    run = tmp_path / "run"
    assert main(toy_argv(run, 3)) == 0
    real_save, calls = checkpoint._save_tensors, []

    def die_midway(tensors, path):
        calls.append(path)
        if len(calls) == 2:  # after model.safetensors of step 6 is on disk, before state.safetensors
            raise SystemExit("killed")  # what a kill looks like from the files' point of view: nothing more
        real_save(tensors, path)

    monkeypatch.setattr(checkpoint, "_save_tensors", die_midway)
    try:
        main(["train", "--resume", str(run), "--steps", "6", "--quiet"])
    except SystemExit:
        pass
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == [".tmp-step_000006", "step_000003"]  # the torn write is not a step_* folder
    monkeypatch.setattr(checkpoint, "_save_tensors", real_save)
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000003", "step_000006"]
