"""bench/mode_collapse.py and bench/stacked_mnist.py cache each (variant, seed) result as it is measured: a rerun
measures only the rows it lacks, and a row of another recipe, steps, seed or protocol is measured anew, never read
from another's cache. The function that trains and scores one row is replaced by a counting fake: no training."""

from __future__ import annotations

import json
import shutil

import pytest

from ganforge.config import build


@pytest.fixture
def toy(bench, monkeypatch):
    """mode_collapse with run_once counting its rows (data, variant, seed, steps) and failing on the row asked."""
    mc = bench("mode_collapse")
    calls, fail = [], []

    def run_once(data, variant, seed, steps, sets=()):
        if (data, variant, seed) in fail:
            raise KeyboardInterrupt  # the session's end, part-way through a study
        calls.append((data, variant, seed, steps, tuple(sets)))
        return {"modes_captured": 25, "high_quality": 0.9 + seed / 100, "reverse_kl": 0.01, "n_samples": 2500,
                "seconds": 1.0, "steps": steps or 16000}

    monkeypatch.setattr(mc, "run_once", run_once)
    mc.calls, mc.fail = calls, fail
    return mc


def toy_args(tmp_path, *more):
    return ["--data", "grid", "--variants", "gan,best", "--seeds", "2", "--steps", "50", "--out",
            str(tmp_path / "cache"), "--json", str(tmp_path / "runs.json"), *more]


def test_a_second_invocation_measures_nothing_again(toy, tmp_path, capsys):
    toy.main(toy_args(tmp_path))
    assert len(toy.calls) == 4 and "0/2" in capsys.readouterr().out
    first = json.loads((tmp_path / "runs.json").read_text())
    toy.calls.clear()
    toy.main(toy_args(tmp_path))
    assert toy.calls == []
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("ganforge ") and line.endswith("2/2") for line in lines) == 2  # both rows cached
    assert json.loads((tmp_path / "runs.json").read_text()) == first  # the same table, read back
    assert {r["steps"] for r in first} == {50} and len(list((tmp_path / "cache").glob("*.json"))) == 4


def test_a_changed_seed_steps_or_override_measures_only_the_new_rows(toy, tmp_path):
    toy.main(toy_args(tmp_path))
    toy.calls.clear()
    toy.main(toy_args(tmp_path, "--seeds", "3"))  # a third seed: only it is trained
    assert [(c[1], c[2]) for c in toy.calls] == [("gan", 2), ("best", 2)]
    toy.calls.clear()
    toy.main(toy_args(tmp_path, "--steps", "80"))  # other steps: every row anew, beside the 50-step ones
    assert len(toy.calls) == 4 and {c[3] for c in toy.calls} == {80}
    toy.calls.clear()
    toy.main(toy_args(tmp_path, "--set", "train.batch_size=64"))
    assert len(toy.calls) == 4 and {c[4] for c in toy.calls} == {("train.batch_size=64",)}
    toy.calls.clear()
    toy.main(toy_args(tmp_path, "--variants", "best", "--seeds", "3"))  # every one of these is cached by now
    assert toy.calls == []


def test_an_interrupted_study_resumes_with_the_rows_it_lacks(toy, tmp_path):
    toy.fail.append(("grid", "gan", 1))
    with pytest.raises(KeyboardInterrupt):
        toy.main(toy_args(tmp_path))
    assert [c[1:3] for c in toy.calls] == [("gan", 0)]
    assert not (tmp_path / "runs.json").exists() and len(list((tmp_path / "cache").glob("*.json"))) == 1
    toy.fail.clear()
    toy.calls.clear()
    toy.main(toy_args(tmp_path))
    assert [c[1:3] for c in toy.calls] == [("gan", 1), ("best", 0), ("best", 1)]
    assert len(json.loads((tmp_path / "runs.json").read_text())) == 4


def test_a_stale_or_foreign_cache_file_is_measured_again(toy, tmp_path):
    toy.main(toy_args(tmp_path, "--variants", "gan", "--seeds", "1"))
    path = next((tmp_path / "cache").glob("*.json"))
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "key": {**record["key"], "steps": 999}}))  # not this row's key
    toy.calls.clear()
    toy.main(toy_args(tmp_path, "--variants", "gan", "--seeds", "1"))
    assert len(toy.calls) == 1 and json.loads(path.read_text())["key"] == record["key"]


def test_the_key_changes_with_the_preset_file_and_the_protocol(bench, tmp_path, monkeypatch):
    mc, sm = bench("mode_collapse"), bench("stacked_mnist")
    presets = tmp_path / "presets"
    shutil.copytree(build.PRESET_DIR, presets)
    monkeypatch.setattr(build, "PRESET_DIR", presets)
    toy, stacked = mc.row_key("grid", "best", 0, None), sm.row_key("wide-r1-ema", "/a", 0, None, "auto")
    real = sm.row_key("real", "/a", 0, None, "auto")
    grid = presets / "toy-grid-best.yaml"
    grid.write_text(grid.read_text() + "# a comment decides nothing\n")
    assert mc.row_key("grid", "best", 0, None) == toy  # the resolved recipe is keyed, not the text
    grid.write_text(grid.read_text().replace("r1: 0.1,", "r1: 0.2,"))
    assert mc.row_key("grid", "best", 0, None)["config"] != toy["config"]
    assert mc.row_key("grid", "gan", 0, None) != mc.row_key("grid", "gan", 1, None)  # the seed, and its noise
    dcgan = presets / "dcgan-stacked-mnist.yaml"
    dcgan.write_text(dcgan.read_text().replace("batch_size: 64", "batch_size: 32"))
    assert sm.row_key("wide-r1-ema", "/a", 0, None, "auto")["config"] != stacked["config"]
    assert sm.row_key("real", "/a", 0, None, "auto") == real  # real images do not depend on the training recipe
    # where the data lies and which device trains decide nothing; the samples scored do
    assert sm.row_key("real", "/elsewhere", 0, 500, "cpu") == real
    monkeypatch.setattr(sm, "N_SAMPLES", 10_000)
    assert sm.row_key("real", "/a", 0, None, "auto") != real


def test_stacked_mnist_resumes_and_marks_its_cached_rows(bench, tmp_path, monkeypatch, capsys):
    sm = bench("stacked_mnist")
    calls, fail = [], [("pack2", 1)]

    def run_once(variant, root, seed, steps, device, picture=None, sets=()):
        if (variant, seed) in fail:
            raise KeyboardInterrupt
        calls.append((variant, seed, steps))
        return {"modes": 1000, "kl": 0.08, "channel_kl": 0.05, "n_samples": 26000, "confidence": 0.8,
                "unsure": 0.4, "steps": 0 if variant == "real" else steps or 5000, "train_seconds": 1.0}

    monkeypatch.setattr(sm, "run_once", run_once)
    args = ["--variants", "real,pack2", "--seeds", "2", "--data-root", "/a", "--out", str(tmp_path / "c"),
            "--json", str(tmp_path / "rows.json")]
    with pytest.raises(KeyboardInterrupt):
        sm.main(args)
    assert calls == [("real", 0, None), ("real", 1, None), ("pack2", 0, None)]
    calls.clear()
    fail.clear()
    sm.main(args)
    assert calls == [("pack2", 1, None)]
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ganforge ")]
    assert [line.rsplit(" ", 1)[1] for line in out[-4:]] == ["yes", "yes", "yes", "no"]
    calls.clear()
    sm.main([*args, "--steps", "300"])  # the real images are not scored again for another --steps
    assert calls == [("pack2", 0, 300), ("pack2", 1, 300)]
    assert [r["steps"] for r in json.loads((tmp_path / "rows.json").read_text())] == [0, 0, 300, 300]


def test_data_efficiency_names_its_table_by_n_and_steps(bench):
    de, papers = bench("data_efficiency"), bench("papers")
    assert de.table_name(de.STEPS, de.SUBSET, de.N, []) == "table.json"
    assert de.table_name(de.STEPS, de.SUBSET, 500, []) == "table-n500.json"
    assert de.table_name(10000, de.SUBSET, 500, []) == "table-steps10000-n500.json"
    assert de.keys(10000, de.SUBSET, 500, [])[0] == "steps10000"  # the runs are shared by every --n
    (command,) = papers.ROWS["data-efficiency"].commands
    args = de.build_parser().parse_args(list(command.args))
    assert f"runs/data-efficiency/{de.table_name(args.steps, args.subset, args.n, args.set)}" == papers.DE_TABLE



def test_data_efficiency_reads_the_fd_along_each_run_with_ds_output_since_the_last_reading(bench, tmp_path, capsys):
    de = bench("data_efficiency")
    records = [{"step": 1, "d_real": 0.5}, {"step": 2, "d_real": 0.7}, {"step": 2, "eval_fd_classifier": 4.0},
               {"step": 3, "d_real": 0.9}, {"step": 4, "d_real": 0.95}, {"step": 4, "eval_fd_classifier": 3.5}]
    for name in ("tracked", "untracked"):
        (tmp_path / name).mkdir()
        kept = records if name == "tracked" else [r for r in records if "eval_fd_classifier" not in r]
        (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    found = de.curves({"tracked": tmp_path / "tracked", "untracked": tmp_path / "untracked"})
    assert found["untracked"] == []
    assert found["tracked"] == [(2, 4.0, pytest.approx(0.6)), (4, 3.5, pytest.approx(0.925))]
    de.print_and_plot_curves(found, str(tmp_path / "curves.png"), 1000)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split() == ["4", "3.50", "0.925", "-", "-"]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

def test_a_row_with_checkpoints_continues_from_them_with_its_own_config(bench, tmp_path):
    runkeys = bench("runkeys")
    tiny = {"family.g_width": 4, "family.d_width": 4, "train.batch_size": 4, "log.tensorboard": False,
            "log.sample_every": 1000, "log.checkpoint_every": 2, "eval.every": 0}
    run = tmp_path / "row"
    runkeys.train_or_continue("default", run, steps=2, settings=tiny, quiet=True)  # the part trained before a stop
    first = (run / "checkpoints" / "step_000002").stat().st_mtime_ns
    runkeys.train_or_continue("default", run, steps=4, settings=tiny, quiet=True)  # the preset is not re-applied
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    assert (run / "checkpoints" / "step_000002").stat().st_mtime_ns == first  # continued, not trained again
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 4
