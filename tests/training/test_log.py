import json

import torch

from ganforge.runs import read_metrics
from ganforge.training.log import MetricsLog, RunningStats


def test_running_stats_means_and_reset():
    stats = RunningStats()
    for v in (1.0, 2.0, 6.0):
        stats.add({"loss_d": torch.tensor(v), "d_real": torch.tensor(v / 10)})
    stats.add({"loss_g": torch.tensor(4.0)})
    means = stats.read_and_reset()
    assert means["loss_d"] == 3.0 and abs(means["d_real"] - 0.3) < 1e-7 and means["loss_g"] == 4.0
    assert stats.read_and_reset() == {}


def test_metrics_log_writes_jsonl_with_speeds_in_the_images_drawn(tmp_path, monkeypatch):
    clock = iter([100.0, 102.0, 106.0])  # the log's start, then each line 2 s and 4 s later
    monkeypatch.setattr("ganforge.training.log.time.perf_counter", lambda: next(clock))
    log = MetricsLog(tmp_path, total_steps=10, start_step=0, start_images=0, quiet=True, tensorboard=False)
    log.log(5, 320, {"loss_d": 1.25})  # 5 steps of 64
    log.log(10, 400, {"loss_d": 0.5})  # 5 steps of 16: the batch changed (progressive growing)
    log.close()
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [5, 10]
    assert records[1]["loss_d"] == 0.5 and records[1]["images"] == 400
    assert [(r["steps_per_s"], r["images_per_s"]) for r in records] == [(2.5, 160.0), (1.25, 20.0)]
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["step"] == 5
