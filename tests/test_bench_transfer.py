"""bench/transfer.py's rows: folders named by what changes their runs, settings per target and method, and a
row's step trained, scored or read back, never trained or scored twice."""

from pathlib import Path

import pytest


def test_rows_are_named_by_what_changes_their_runs(bench):
    transfer = bench("transfer")
    out = Path("runs/transfer")
    assert transfer.row_run(out, "mnist-100", "finetune", 7, 1, "", []) == out / "mnist-100" / "finetune"
    assert transfer.row_run(out, "mnist-100", "scratch", 3, 2, "src1234abcd", []) == out / "mnist-100" / "scratch"
    given = transfer.source_key("runs/elsewhere", 12_000)
    assert given.startswith("src") and given != transfer.source_key("runs/other", 12_000)
    assert transfer.source_key(None, 12_000) == "" and transfer.source_key(None, 300) == "srcsteps300"
    tuned = transfer.row_run(out, "fashion-class-100", "finetune+freezed", 0, 2, "srcsteps300", ["a=1"])
    assert tuned.parent == out / "fashion-class-100"
    assert tuned.name.startswith("finetune+freezed-class0-freeze2-set")
    assert tuned.name.endswith("-srcsteps300")


def test_each_row_trains_the_target_with_its_method(bench):
    transfer = bench("transfer")
    source = Path("/runs/source")
    assert transfer.row_settings("mnist-1000", "scratch", source, 7, 1) == {
        "eval.every": 0, "log.tensorboard": False, "data.name": "mnist", "data.subset": 1000}
    one = transfer.row_settings("fashion-class-100", "finetune+freezed", source, 7, 1)
    assert one["data.classes"] == [7] and one["data.subset"] == 100 and one["train.init"] == str(source)
    assert one["family.freeze_d"] == 1 and "train.augment" not in one
    augmented = transfer.row_settings("mnist-100", "scratch+diffaugment", source, 7, 1)
    assert augmented["train.augment"] == "diffaugment" and "train.init" not in augmented


def test_a_step_is_trained_scored_or_read_back_never_done_twice(bench, tmp_path):
    transfer = bench("transfer")
    assert transfer.step_list("2000, 250,500,250") == [250, 500, 2000]
    with pytest.raises(SystemExit, match="positive step counts"):
        transfer.step_list("0,10")
    assert transfer.plan(0, 250, done=False) == "train"
    assert transfer.plan(250, 500, done=False) == "train"  # resumed from 250
    assert transfer.plan(500, 500, done=False) == "score"
    assert transfer.plan(2000, 500, done=True) == "cached"
    with pytest.raises(SystemExit, match="at step 2,000, past step 500, which was never scored"):
        transfer.plan(2000, 500, done=False)
    assert transfer.reached(tmp_path) == 0
    (tmp_path / "checkpoints" / "step_000500").mkdir(parents=True)
    assert transfer.reached(tmp_path) == 500
    assert transfer.score_key(500, 2000, "test") != transfer.score_key(500, 1000, "test")
    assert transfer.read_scores(tmp_path) == {}
    rows = [{"target": "mnist-100", "method": "finetune", "step": 1000, "fd_classifier": 12.345,
             "nn_pixel_nn_ratio": 0.91, "nn_pixel_copy_rate": 0.061}]
    table = transfer.markdown(rows, 2000, "test").splitlines()
    assert table[0].startswith("| target | method | steps | fd_classifier (2,000 samples vs test) | nn_ratio")
    assert table[2] == "| mnist-100 | finetune | 1,000 | 12.35 | 0.910 | 0.061 |"
