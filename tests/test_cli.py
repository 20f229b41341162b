import json
import subprocess
import sys

import pytest

from ganforge.cli import build_parser, main

FAST = ["--quiet", "--set", "log.tensorboard=false"]
TINY_DCGAN = [*FAST, "--steps", "2", "--set", "family.g_width=8", "--set", "family.d_width=8",
              "--set", "train.batch_size=8"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), *TINY_DCGAN]) == 0
    return run


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cgan"
    assert main(["train", "--out", str(run), *TINY_DCGAN, "--set", "eval.every=0", "--set",
                 "family.condition=cgan"]) == 0
    return run


def test_train_prints_a_summary(tmp_path, capsys):
    assert main(["train", "--config", "toy-1d", "--steps", "2", "--out", str(tmp_path / "r"), *FAST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("done: step 2 in")  # --quiet: no header, only the summary
    assert "D(x)" in out and "D(G(z))" in out
    assert f"run folder: {tmp_path / 'r'}" in out


def test_resume_extends_a_run(image_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(image_run, run)
    assert main(["train", "--resume", str(run), "--steps", "4", "--quiet"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4
    assert max(p.name for p in (run / "checkpoints").iterdir()) == "step_000004"


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_unknown_key_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    err = _error(capsys, ["train", "--out", str(out), "--set", "train.bach_size=3", *FAST])
    assert "unknown config key 'train.bach_size'; did you mean 'train.batch_size'?" in err
    assert not out.exists()


def test_missing_dataset_says_where_to_put_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "never"
    err = _error(capsys, ["train", "--data", "mnist", "--out", str(out), *FAST])
    assert "mnist" in err and "data.root" in err
    assert not out.exists()


def test_bad_paths_and_runs(tmp_path, capsys):
    err = _error(capsys, ["train", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r"), *FAST])
    assert str(tmp_path / "absent") in err
    err = _error(capsys, ["train", "--resume", str(tmp_path)])
    assert "not a ganforge run" in err
    err = _error(capsys, ["sample", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert "not a ganforge run" in err
    err = _error(capsys, ["train", "--config", "nope", "--out", str(tmp_path / "r")])
    assert "unknown preset 'nope'" in err
    assert not (tmp_path / "r").exists()


def test_existing_run_folder_is_not_overwritten(image_run, capsys):
    before = sorted(p.name for p in image_run.rglob("*"))
    err = _error(capsys, ["train", "--out", str(image_run), *TINY_DCGAN])
    assert "--resume" in err
    assert sorted(p.name for p in image_run.rglob("*")) == before


def test_the_run_tools_share_their_run_options():
    parser = build_parser()
    tools = (["sample", "R"], ["translate", "R", "--input", "x"], ["predict", "R", "--input", "x"],
             ["project", "R", "--input", "x"], ["explore", "mix", "R"], ["eval", "R"], ["report", "R"])
    for argv in tools:
        args = parser.parse_args([*argv, "--out", "o", *(["--force"] if argv[0] != "eval" else [])])
        assert (args.run_dir, args.out, getattr(args, "force", True)) == ("R", "o", True), argv
        if argv[0] != "report":  # the page reads the run folder; it loads no network
            args = parser.parse_args([*argv, "--checkpoint", "best", "--device", "cpu"])
            assert (args.checkpoint, args.device) == ("best", "cpu"), argv
            assert (parser.parse_args(argv).checkpoint, parser.parse_args(argv).device) == (None, "auto")
    assert parser.parse_args(["eval", "--real", "a", "--fake", "b"]).run_dir is None  # optional for eval alone
    with pytest.raises(SystemExit):
        parser.parse_args(["sample"])


def test_presets_lists_every_preset_with_a_line(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "gan-mnist", "toy-ring", "toy-grid", "toy-1d", "dense-fashion"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    assert main(["presets", "--keys"]) == 0
    assert "family.d_steps" in capsys.readouterr().out


def test_console_script_and_module_entry_points():
    for argv in (["ganforge", "presets"], [sys.executable, "-m", "ganforge", "presets"]):
        result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "default" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "ganforge", "train", "--set", "train.steps=x"],
                         check=False, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["ganforge train: error: config key 'train.steps' must be int, got 'x'"]


def test_eval_of_a_conditional_run_reports_class_accuracy_and_intra_fid(cgan_run):
    assert main(["eval", str(cgan_run), "--n", "200"]) == 0
    result = json.loads((cgan_run / "eval.json").read_text())
    values = result["values"]
    assert {"fd_classifier", "class_accuracy", "class_coverage", "intra_fd_classifier"} <= set(values)
    assert 0 <= values["class_accuracy"] <= 1 and values["intra_fd_classifier"] > 0
    assert "conditional" in result["protocol"]


def test_eval_cas_trains_on_the_samples_and_tests_on_real_images(cgan_run, capsys, monkeypatch):
    # CAS trains as long as the real-data classifier did; as if that had seen 1,280 images: 30 steps
    monkeypatch.setattr("ganforge.metrics.conditional_eval.REAL_TRAIN_IMAGES", 1280)
    assert main(["eval", str(cgan_run), "--n", "200", "--metrics", "cas"]) == 0
    result = json.loads((cgan_run / "eval.json").read_text())
    assert 0 <= result["values"]["cas"] <= 1 and "Ravuri" in result["evaluations"][-1]["protocol"]["cas"]
    assert "cas" in capsys.readouterr().out


def test_eval_aug_needs_a_training_split_apart_from_the_reference(cgan_run, capsys):
    err = _error(capsys, ["eval", str(cgan_run), "--n", "200", "--metrics", "aug"])
    assert "no split apart from the reference images" in err and "drop aug" in err
