"""Every file a command writes appears whole or not at all.

Each command is stopped by Ctrl-C in the middle of writing one of its outputs (half of the first write
reaches the disk, then KeyboardInterrupt): nothing is then under that output's name, an earlier output that
--force was replacing is left as it was, and no temporary file or folder stays behind. A `ganforge sample`
killed outright (SIGKILL) while filling a folder leaves the earlier folder and only a hidden .tmp-* folder,
which no reader takes for an output and which does not stop the next run.
"""

import builtins
import errno
import fnmatch
import io
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
from safetensors.torch import load_file

from ganforge import hardware
from ganforge.cli import main
from ganforge.data import moving_mnist as mm
from ganforge.errors import UserError
from ganforge.files import atomic_folder
from ganforge.metrics.classifier import DomainClassifier, save_classifier
from ganforge.reporting import write_report

TINY = ["--quiet", "--steps", "2", *(a for s in ("log.tensorboard=false", "eval.every=0", "train.batch_size=8",
                                                  "family.g_width=8", "family.d_width=8") for a in ("--set", s))]
TEMPORARY = re.compile(r"^\.tmp-[0-9a-f]{8}-")  # ganforge.files' temporary names
INTERRUPTED = 130  # the CLI's exit status after Ctrl-C


# -- the interruption ------------------------------------------------------------------------------------------


class Cut:
    """Which file to interrupt: the (skip + 1)-th opened for writing under `root` whose name, less a
    temporary prefix, matches `pattern`. `path` is that file once it is opened."""

    def __init__(self, root: Path, pattern: str, skip: int):
        self.root, self.pattern, self.skip, self.path = Path(root).resolve(), pattern, skip, None

    def wants(self, file, mode: str) -> bool:
        if self.path is not None or not isinstance(file, (str, os.PathLike)) or not set(mode) & set("wax+"):
            return False
        path = Path(file).resolve()
        if not path.is_relative_to(self.root) or not fnmatch.fnmatch(TEMPORARY.sub("", path.name), self.pattern):
            return False
        if self.skip:
            self.skip -= 1
            return False
        self.path = path
        return True

    @property
    def final(self) -> Path:
        """The name the interrupted file was being written for."""
        return self.path.with_name(TEMPORARY.sub("", self.path.name))


class CutFile:
    """A file whose first write puts half its data on the disk, then raises KeyboardInterrupt."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        data = data if isinstance(data, str) else memoryview(data).cast("B")
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        raise KeyboardInterrupt

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def cut(monkeypatch):
    """cut(root, pattern, skip=0): interrupt that file's first write (every open() of Python code: the atomic
    writer's, PIL's, numpy's, pathlib's) and return the Cut."""
    real = builtins.open  # io.open is the same function

    def arm(root: Path, pattern: str, skip: int = 0) -> Cut:
        c = Cut(root, pattern, skip)

        def opener(file, mode="r", *args, **kwargs):
            f = real(file, mode, *args, **kwargs)
            return CutFile(f) if c.wants(file, mode) else f

        monkeypatch.setattr(builtins, "open", opener)
        monkeypatch.setattr(io, "open", opener)  # what pathlib and zipfile call
        return c

    return arm


def contents(path: Path) -> dict[str, bytes] | bytes | None:
    """A file's bytes, a folder's files by relative name, or None where nothing is."""
    if path.is_file():
        return path.read_bytes()
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return None


def debris(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob(".tmp-*")]


def interrupted(argv: list[str], c: Cut, root: Path, *outputs: Path) -> None:
    """Run the command, check it was stopped in the middle of writing, and that each of `outputs` holds
    what it held before (nothing where there was nothing) with no temporary left under `root`."""
    before = [contents(p) for p in outputs]
    assert main(argv) == INTERRUPTED
    assert c.path is not None, f"{c.pattern} was not written"
    assert [contents(p) for p in outputs] == before
    assert not debris(root)


# -- the runs ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


def gray_images(folder: Path, n: int, seed: int, size: int = 32) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory):
    """A tiny pix2pix run on a paired folder of its own (A/ and B/)."""
    root = tmp_path_factory.mktemp("p2p")
    gray_images(root / "pairs" / "A", 8, seed=0)
    gray_images(root / "pairs" / "B", 8, seed=1)
    assert main(["train", "--config", "pix2pix-fashion-edges", "--data", str(root / "pairs"), "--out",
                 str(root / "run"), *TINY, "--set", "train.batch_size=4"]) == 0
    return root / "run"


VIDEO = ["--config", "video-moving-mnist", "--quiet", "--steps", "2",
         *(a for s in ("log.tensorboard=false", "eval.every=0", "train.batch_size=8", "family.width=8",
                       "family.d_width=8") for a in ("--set", s))]


@pytest.fixture(scope="module")
def video_data(shared):
    """moving-mnist (made from ../shared/data/mnist), 16 training clips."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    mp.setattr(mm, "N_TRAIN", 16)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def video_run(video_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("video") / "run"
    assert main(["train", "--out", str(run), *VIDEO]) == 0
    return run


# -- each command ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["grid.png", "samples.npz"])
def test_sample_file(image_run, tmp_path, cut, name):
    out = tmp_path / name
    c = cut(tmp_path, name)
    interrupted(["sample", str(image_run), "--out", str(out)], c, tmp_path, out)
    assert c.final == out
    # over an earlier file, --force keeps it until the new one is whole
    assert main(["sample", str(image_run), "--out", str(out), "--seed", "1"]) == 0
    c = cut(tmp_path, name)
    interrupted(["sample", str(image_run), "--out", str(out), "--force"], c, tmp_path, out)


def test_sample_folder(image_run, tmp_path, cut):
    out = tmp_path / "samples"
    argv = ["sample", str(image_run), "--out", f"{out}/", "--n", "12"]
    interrupted(argv, cut(tmp_path, "*.png", skip=5), tmp_path, out)
    # an earlier draw there stays whole: neither some of its files replaced nor some removed
    assert main([*argv[:-1], "20", "--seed", "1"]) == 0
    interrupted([*argv, "--force"], cut(tmp_path, "*.png", skip=5), tmp_path, out)


def test_translate_image_and_folder(pix2pix_run, tmp_path, cut):
    inputs, again = gray_images(tmp_path / "in" / "a", 6, seed=2), gray_images(tmp_path / "in" / "b", 6, seed=3)
    out = tmp_path / "out"
    single = ["translate", str(pix2pix_run), "--input", str(inputs / "0.png"), "--out", str(out / "one.png")]
    c = cut(out, "one.png")
    interrupted(single, c, out, out / "one.png")
    assert c.final == out / "one.png"
    folder = ["translate", str(pix2pix_run), "--input", str(inputs), "--out", str(out / "all")]
    interrupted(folder, cut(out, "*.png", skip=3), out, out / "all")
    # over an earlier translation, other images under the same names: none of the old files is replaced
    assert main(folder) == 0
    interrupted([*folder[:3], str(again), *folder[4:], "--force"], cut(out, "*.png", skip=3), out, out / "all")


def test_eval_json(image_run, cut):
    out = image_run / "eval.json"
    c = cut(image_run, "eval.json")
    interrupted(["eval", str(image_run), "--n", "50"], c, image_run, out)
    assert c.final == out


@pytest.mark.parametrize("name", ["sets.json", "nearest.png"])
def test_eval_of_two_image_sets(image_run, tmp_path, cut, name):
    for seed, which in enumerate(("real", "fake")):
        assert main(["sample", str(image_run), "--out", str(tmp_path / f"{which}.npz"), "--n", "40", "--seed",
                     str(seed)]) == 0
    out = tmp_path / "result" / "sets.json"
    c = cut(tmp_path, name)
    # the panel is drawn before the results are written: the results are not written after it is cut
    interrupted(["eval", "--real", str(tmp_path / "real.npz"), "--fake", str(tmp_path / "fake.npz"), "--n", "40",
                 "--metrics", "swd,nn", "--out", str(out)], c, tmp_path, out.with_name(name), out)
    assert c.final == out.with_name(name)


def test_report(image_run, cut):
    out = image_run / "report.html"
    c = cut(image_run, "report.html")
    interrupted(["report", str(image_run)], c, image_run, out)
    assert c.final == out
    assert main(["report", str(image_run)]) == 0
    interrupted(["report", str(image_run), "--force"], cut(image_run, "report.html"), image_run, out)


def test_report_never_reads_what_a_killed_write_left(image_run, tmp_path):
    """A write killed outright leaves its hidden temporary, half a PNG: the page shows neither it as a figure
    nor it as a frame."""
    half = (image_run / "samples.png").read_bytes()[:100]
    for path in (image_run / ".tmp-0123abcd-sample_step000002_seed0.png",
                 image_run / "samples" / ".tmp-0123abcd-step_000004.png"):
        path.write_bytes(half)
    try:
        page = write_report(image_run, tmp_path / "page.html").read_text()
    finally:
        for path in debris(image_run):
            (image_run / path).unlink()
    assert ".tmp-" not in page and "step 4" not in page


def test_export(image_run, tmp_path, cut):
    out = tmp_path / "g.pt"
    c = cut(tmp_path, "g.pt")
    interrupted(["export", str(image_run), "--out", str(out)], c, tmp_path, out)
    assert c.final == out


@pytest.mark.parametrize("action, name, extra", [
    ("interpolate", "walk.png", []),  # the grid: neither it nor its GIF
    ("interpolate", "walk.gif", []),  # the GIF: the grid before it is whole
    ("truncation", "walk.json", ["--n", "40", "--psi", "1", "0.5"]),
])
def test_explore(image_run, tmp_path, cut, action, name, extra):
    png = tmp_path / "walk.png"
    unwritten = [png, png.with_suffix(".gif")] if name == "walk.png" else [tmp_path / name]
    c = cut(tmp_path, name)
    interrupted(["explore", action, str(image_run), "--out", str(png), *extra], c, tmp_path, *unwritten)
    assert c.final == tmp_path / name
    if name != "walk.png":
        with Image.open(png) as image:
            image.load()  # whole


def test_train_pictures(tmp_path, cut):
    run = tmp_path / "run"
    c = cut(tmp_path, "progress.gif")
    interrupted(["train", "--out", str(run), *TINY], c, tmp_path, run / "progress.gif")
    assert c.final == run / "progress.gif"


def test_video_run_clips_gif(video_data, tmp_path, cut):
    run = tmp_path / "run"
    c = cut(tmp_path, "clips.gif")  # the copy of the latest samples/clips_<step>.gif
    interrupted(["train", "--out", str(run), *VIDEO], c, tmp_path, run / "clips.gif")
    assert c.final == run / "clips.gif"


def test_predict(video_run, tmp_path, cut):
    frames = tmp_path / "clip"
    frames.mkdir()
    for t in range(12):
        Image.fromarray(np.full((64, 64), 20 * t, dtype=np.uint8)).save(frames / f"{t:02d}.png")
    out = tmp_path / "next.gif"
    c = cut(tmp_path, "next.gif")
    interrupted(["predict", str(video_run), "--input", str(frames), "--out", str(out)], c, tmp_path, out)
    assert c.final == out


def test_bench_json(tmp_path, cut, monkeypatch):
    monkeypatch.setattr(hardware, "ROOF_SIZE", 128)
    monkeypatch.setattr(hardware, "ROOF_SECONDS", 0.01)
    out = tmp_path / "rows.json"
    c = cut(tmp_path, "rows.json")
    interrupted(["bench", "--device", "cpu", "--steps", "1", "--warmup", "0", "--batch", "8", "--nets", "dcgan28",
                 "--workers", "0", "--set", "family.g_width=8", "--set", "family.d_width=8", "--json", str(out)],
                c, tmp_path, out)
    assert c.final == out


@pytest.mark.parametrize("name", ["c.safetensors", "c.json"])
def test_classifier_files(tmp_path, cut, name):
    """`ganforge classifier train` saves this way; the JSON, written last, is never beside partial weights."""
    c = cut(tmp_path, name)
    with pytest.raises(KeyboardInterrupt):
        save_classifier(DomainClassifier(), tmp_path / "c", {"n_classes": 10, "in_channels": 1})
    assert c.final == tmp_path / name
    assert not (tmp_path / "c.json").exists() and not debris(tmp_path)
    if name == "c.json":  # the weights before it are whole
        assert set(load_file(str(tmp_path / "c.safetensors"))) == set(DomainClassifier().state_dict())
    else:
        assert not (tmp_path / "c.safetensors").exists()


def test_convert(tmp_path, cut):
    torch.save({"w": torch.ones(3)}, tmp_path / "old.pt")
    out = tmp_path / "new.safetensors"
    c = cut(tmp_path, "new.safetensors")
    interrupted(["convert", str(tmp_path / "old.pt"), "--out", str(out), "--trust-pickle"], c, tmp_path, out)
    assert c.final == out


def test_a_folder_that_cannot_take_its_place_leaves_the_earlier_one(tmp_path, monkeypatch):
    """The new folder's rename fails after the earlier folder was moved aside: the earlier one goes back."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "000000.png").write_bytes(b"earlier")
    real, failed = os.replace, []

    def replace(src, dst):
        if Path(dst) == out and not failed:
            failed.append(src)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(UserError, match="No space left"), atomic_folder(out) as tmp:
        (tmp / "000000.png").write_bytes(b"new")
    assert failed and contents(out) == {"000000.png": b"earlier"} and not debris(tmp_path)


# -- a real kill ---------------------------------------------------------------------------------------------


def files_in(folder: Path) -> int:
    try:
        return len(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):  # renamed into place meanwhile, or a file
        return 0


def test_sample_folder_killed_outright(image_run, tmp_path):
    out = tmp_path / "samples"
    assert main(["sample", str(image_run), "--out", f"{out}/", "--n", "3", "--seed", "1"]) == 0
    before = contents(out)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "sample", str(image_run), "--out", f"{out}/",
                             "--n", "4000", "--force"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        filling = None
        while filling is None and proc.poll() is None:
            filling = next((d for d in tmp_path.glob(".tmp-*") if files_in(d) > 50), None)
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert filling is not None, f"the run ended before its folder was seen filling: {err.decode()[-500:]}"
    assert proc.returncode == -signal.SIGKILL
    assert contents(out) == before
    left = sorted(p.name for p in tmp_path.iterdir() if p != out)
    assert left == [filling.name]  # hidden, beside the output
    # it does not stop the next run, which writes a whole folder
    assert main(["sample", str(image_run), "--out", f"{out}/", "--n", "5", "--force"]) == 0
    assert sorted(contents(out)) == [f"{i:06d}.png" for i in range(5)]
