"""One trainer per run folder: a second one is refused naming the first; a lock left by a killed process is
taken over; the lock goes when training ends."""

import json
import os
import signal
import subprocess
import sys

import pytest

from ganforge.cli import main
from ganforge.errors import UserError
from ganforge.training.run_lock import LOCK_NAME, RunLock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="flock: POSIX only")

HOLD = """import sys, time
from ganforge.training.run_lock import RunLock
lock = RunLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def holder(run):
    """A process that holds `run`'s lock (as a trainer does) until it is killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_trainer_is_refused_with_the_first_ones_pid(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "toy-1d", "--steps", "4", "--out", str(run), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    other = holder(run)
    try:
        capsys.readouterr()
        for command in (["--resume", str(run), "--steps", "8"], ["--config", "toy-1d", "--out", str(run)]):
            assert main(["train", *command]) == 2
            err = capsys.readouterr().err
            assert f"{run} is being trained by process {other.pid} on " in err and "\n" == err[-1] and err.count("\n") == 1
    finally:
        other.kill()
        other.wait()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != LOCK_NAME} == {
        k: v for k, v in before.items() if k != LOCK_NAME}  # nothing written by the refused commands


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    other = holder(run)  # killed before it wrote anything: the folder holds only its lock
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == other.pid
    assert main(["train", "--config", "toy-1d", "--steps", "4", "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_the_lock_is_released_when_training_ends(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--config", "toy-1d", "--steps", "4", "--out", str(run), "--quiet"]) == 0
    RunLock(run).check()  # free: no error
    with RunLock(run) as first:
        first.acquire()
        with pytest.raises(UserError, match="is being trained by process"):
            RunLock(run).acquire()  # the same process, another trainer: refused too
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0
