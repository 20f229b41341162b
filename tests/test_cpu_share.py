"""cpu_share: what other work keeps busy, and the threads and wait policy `ganforge train` takes beside it."""

import os
import subprocess
import sys
import time

import pytest
import torch

from ganforge import cpu_share
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import UserError

MEASURED = cpu_share.other_busy_cores  # the real one: the suite's own fixture makes every other test see idle
TINY = ["--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "train.batch_size=8", "--set",
        "log.tensorboard=false", "--set", "eval.every=0", "--set", "log.sample_every=1000"]

STAT = """cpu  400 0 100 900 0 0 0 0 0 0
cpu0 100 0 50 300 0 0 0 0 0 0
cpu1 300 0 50 600 0 0 0 0 0 0
cpu7 10 0 0 5 5 0 0 0 0 0
intr 12345
"""


def test_ticks_are_summed_over_the_cpus_this_process_may_use(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(STAT)
    assert cpu_share.cpu_ticks({0, 1}, stat) == (100 + 50 + 300 + 50, 100 + 50 + 300 + 300 + 50 + 600)
    assert cpu_share.cpu_ticks({7}, stat) == (10, 20)  # iowait counts as idle
    assert cpu_share.cpu_ticks({3}, stat) is None
    assert cpu_share.cpu_ticks({0}, tmp_path / "absent") is None


def test_a_spinning_process_is_seen_as_about_one_busy_core():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # past its start-up
        busy = MEASURED(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    if busy is None:
        pytest.skip("/proc/stat cannot be read here")
    assert busy >= 0.7


@pytest.mark.parametrize(("setting", "cores", "busy", "threads", "noted"), [
    (0, 2, None, None, False),  # not measured (the Python API): the process's setting stays
    (0, 2, 0.3, None, False),  # idle enough: every core
    (0, 2, 1.9, 1, True),  # another job on both cores: one thread
    (0, 2, 5.0, 1, True),  # at least one
    (0, 8, 3.2, 5, True),
    (2, 2, 1.9, 2, False),  # an explicit count is kept
])
def test_auto_trains_on_the_cores_left_free(setting, cores, busy, threads, noted):
    chosen, note = cpu_share.threads_for(setting, cores, busy)
    assert chosen == threads and (note is not None) == noted
    if noted:
        assert f"train.threads={cores}" in note and f"{busy:.1f} of its {cores} cores" in note


def test_a_busy_machine_gets_the_passive_wait_unless_the_environment_chose(monkeypatch):
    monkeypatch.setattr(cpu_share, "other_busy_cores", lambda window_s=None: 1.9)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert cpu_share.prepare_process() == 1.9
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    cpu_share.prepare_process()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.setattr(cpu_share, "other_busy_cores", lambda window_s=None: 0.1)
    monkeypatch.delenv("OMP_WAIT_POLICY")
    cpu_share.prepare_process()
    assert "OMP_WAIT_POLICY" not in os.environ
    cpu_share.busy_at_start = None


def test_train_on_a_busy_machine_takes_the_free_core_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cpu_share, "other_busy_cores", lambda window_s=None: 1.9)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # as prepare_process sets it (monkeypatch restores it)
    before = torch.get_num_threads()
    try:
        assert main(["train", "--out", str(tmp_path / "run"), "--steps", "2", *TINY]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert ("note: the machine is busy: other work keeps 1.9 of its " in out
            and "trains on 1 thread, OpenMP threads wait passively" in out)
    assert cpu_share.busy_at_start is None  # the command's measurement is not kept for later calls
    assert "threads: 0" in (tmp_path / "run" / "config.yaml").read_text()  # auto is what the run records


def test_more_threads_than_cores_is_refused():
    with pytest.raises(UserError, match="'train.threads' must be 0 \\(auto\\) or 1.."):
        load_config("default", [f"train.threads={(os.cpu_count() or 1) + 1}"])
