"""`ganforge report`: one self-contained HTML page per run, checked as text and in a real headless browser."""

import base64
import html
import html.parser
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from devtools import open_page
from ganforge.cli import build_parser
from ganforge.cli import main as cli
from ganforge.errors import UserError
from ganforge.reporting import MAX_FRAMES, write_report

FAST = ["--quiet", "--set", "log.tensorboard=false", "--set", "eval.every=0"]
FIXTURE_RUN = Path(__file__).parent / "fixtures" / "run-0.1-toy"  # config.yaml, metrics.jsonl: no pictures


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A tiny DCGAN: frames at steps 0, 2, 4, reals.png, curves.png, the classifier FD of 50 samples at steps 2
    and 4, and an eval.json."""
    run = tmp_path_factory.mktemp("runs") / "img"
    assert cli(["train", "--out", str(run), *FAST, "--steps", "4", "--set", "family.g_width=8",
                "--set", "family.d_width=8", "--set", "train.batch_size=8", "--set", "log.sample_every=2",
                "--set", "eval.every=2", "--set", "eval.n=50"]) == 0
    assert cli(["eval", str(run), "--n", "100"]) == 0
    return run


def own_folder(root: Path, n: int, captions: bool = False) -> Path:
    """n images of 48x32 (width x height) as a user has them: RGB and grayscale, PNG and JPEG, and one file
    that is not an image; `captions`: a captions.csv naming each one's colour."""
    rng = np.random.default_rng(0)
    root.mkdir()
    rows = ["file,caption"]
    for i in range(n):
        img = np.full((32, 48, 3), 30, np.uint8)
        colour = rng.integers(0, 256, 3)
        img[8:24, 10 + i % 20:26 + i % 20] = colour
        im = Image.fromarray(img).convert("L") if i % 3 == 0 and not captions else Image.fromarray(img)
        name = f"{i:03d}." + ("jpg" if i % 2 else "png")
        im.save(root / name)
        rows.append(f"{name},a {'red' if colour[0] > 127 else 'dark'} square")
    if captions:
        (root / "captions.csv").write_text("\n".join(rows) + "\n")
    else:
        (root / "broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """The default preset on a user's folder of 24 non-square images (one unreadable file skipped), 3 steps:
    (the run, the folder)."""
    folder = own_folder(tmp_path_factory.mktemp("data") / "mine", 24)
    run = tmp_path_factory.mktemp("runs") / "mine"
    assert cli(["train", "--data", str(folder), "--out", str(run), *FAST, "--steps", "3", "--set", "family.g_width=8",
                "--set", "family.d_width=8", "--set", "train.batch_size=8", "--set", "data.on_bad_file=skip"]) == 0
    return run, folder


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """toy-ring: frames are scatter plots at steps 0, 10, 20; eval.json holds the mode metrics."""
    run = tmp_path_factory.mktemp("runs") / "ring"
    assert cli(["train", "--config", "toy-ring", "--out", str(run), *FAST, "--steps", "20",
                "--set", "log.sample_every=10", "--set", "data.n_toy=1000"]) == 0
    assert cli(["eval", str(run), "--n", "500"]) == 0
    return run


def _png(path: Path, colour=(0, 0, 0), size=(8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def bare_run(tmp_path):
    """A run folder of ganforge 0.1 (no pictures): pictures and JSON are added by each test."""
    run = tmp_path / "old"
    shutil.copytree(FIXTURE_RUN, run)
    return run


class Page(html.parser.HTMLParser):
    """The tags and attributes of a page, and its visible text."""

    def __init__(self, source: str | Path):
        super().__init__()
        text = source.read_text() if isinstance(source, Path) else source
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: dict[str, str] = {}
        self._script_id = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._script_id = dict(attrs).get("id") if tag == "script" else None

    def handle_data(self, data):
        if self._script_id:
            self.scripts[self._script_id] = data
        self.text.append(data)

    def handle_endtag(self, tag):
        self._script_id = None

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]

    def frames(self) -> dict:
        return json.loads(self.scripts["frames"])


def _subtitle(page: Path) -> list[str]:
    """The lines under the run's name, as the browser shows them."""
    found = re.search(r'<p class="sub">(.*?)</p>', page.read_text(), re.DOTALL)
    return [html.unescape(line) for line in found.group(1).split("<br>")]


def _timing(run: Path) -> str:
    """summary.json's wall time and images/s, as the subtitle writes them for a run under 100 s."""
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seconds"] < 100
    return f"{summary['seconds']:.3g} s at {summary['images_per_s']:,.1f} images/s"


# what the default preset's description claims, none of it true of a short run on other data
PRESET_CLAIMS = ("Fashion-MNIST", "28x28", "12,000", "~8 min", "2 CPU cores", "every 500", "classifier FD")


def _decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


# -- the page as text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["image_run", "toy_run"])
def test_the_page_is_self_contained_and_inlines_every_frame(name, request):
    run = request.getfixturevalue(name)
    out = write_report(run)
    assert out == run / "report.html"
    text = out.read_text()
    page = Page(text)
    # nothing is fetched from anywhere: no links, scripts or styles from outside, every picture inlined
    assert not page.all("link") and not any("src" in attrs for attrs in page.all("script"))
    assert "url(" not in text and "@import" not in text
    for tag, attrs in page.tags:
        for key, value in attrs.items():
            assert not re.match(r"\s*(https?:)?//", value or ""), f"<{tag} {key}={value}>"
    for attrs in page.all("img"):
        assert _decode(attrs["src"]).size[0] > 0
    frames = sorted((run / "samples").glob("step_*.png"))
    data = page.frames()
    assert data["steps"] == [int(p.stem.split("_")[1]) for p in frames]
    (series,) = data["series"]
    assert [base64.b64decode(u.split(",", 1)[1]) for u in series["frames"]] == [p.read_bytes() for p in frames]
    slider = page.all("input")[0]
    assert slider["type"] == "range" and int(slider["max"]) == len(frames) - 1
    assert f"step {data['steps'][-1]}" in text  # the step the slider shows at first: the last
    assert "config.yaml" in text and (run / "config.yaml").read_text().splitlines()[0] in text


def test_image_run_page_shows_reals_curves_metrics_and_protocol(image_run):
    page = Page(write_report(image_run, out=image_run / "page.html"))
    imgs = [_decode(a["src"]) for a in page.all("img")]
    reals = Image.open(image_run / "reals.png")
    assert any(im.size == reals.size and np.array_equal(np.asarray(im), np.asarray(reals)) for im in imgs)
    text = " ".join(page.text)
    result = json.loads((image_run / "eval.json").read_text())
    for key, value in result["values"].items():  # whatever the metrics are called
        assert key in text and f"{value:.4g}" in text
    for key, value in result["protocol"].items():  # a list of sentences (warnings) one to a line
        assert key in text and all(str(line) in page.text for line in (value if isinstance(value, list) else []))
        assert isinstance(value, list) or str(value) in text
    assert re.search(r"\bsteps\s+4\b", text)  # summary.json, an integer shown as one


def test_the_subtitle_describes_a_run_on_the_users_own_folder(folder_run):
    """A short run on a folder of 48x32 images: the subtitle names the folder, the images trained on, their size
    as trained, the steps reached and what was (not) evaluated, none of the preset's own claims."""
    run, folder = folder_run
    page = write_report(run)
    assert _subtitle(page) == [
        (f"gan/dcgan on folder {folder} (24 images, 3x32x32, 1 unreadable file skipped), 3 steps of batch 8, "
        f"non-saturating loss, Adam 5e-4, EMA of G; {_timing(run)}; no evaluation during training")]
    # the preset's description is nowhere on the page but in config.yaml itself, shown as the file it is
    text = re.sub(r"<pre>.*?</pre>", "", page.read_text(), flags=re.DOTALL)
    assert not [claim for claim in PRESET_CLAIMS if claim in text]


def test_the_subtitle_names_what_was_evaluated_during_training(image_run):
    best = json.loads((image_run / "summary.json").read_text())["best"]
    line = (f"gan/dcgan28 on fashion-mnist-10k (10,000 images, 1x28x28, 10 classes), 4 steps of batch 8, "
            f"non-saturating loss, Adam 5e-4, EMA of G; {_timing(image_run)}; evaluated during training: "
            f"fd_classifier on 50 samples (fashion-mnist-classifier features) every 2 steps (2 evaluations), "
            f"best {best['value']:.4g} at step {best['step']}")
    # 4 of the default preset's 12,000 steps: its description (another length) is left out
    assert _subtitle(write_report(image_run, out=image_run / "sub.html")) == [line]
    assert best["step"] in (2, 4)


def test_the_subtitle_of_a_text_to_image_run_on_a_captions_folder(tmp_path):
    folder = own_folder(tmp_path / "captioned", 40, captions=True)
    run = tmp_path / "t2i"
    assert cli(["train", "--config", "text2image-fashion", "--data", str(folder), "--out", str(run), *FAST,
                "--steps", "2", "--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "family.z_dim=8",
                "--set", "family.pretrain_steps=2", "--set", "family.pretrain_batch=8",
                "--set", "train.batch_size=8"]) == 0
    (line,) = _subtitle(write_report(run))
    assert line.startswith(f"text2image on folder {folder} (40 images, 3x28x28, 2 distinct captions), 2 steps of "
                           "batch 8, Adam 2e-4, EMA of G; ")
    assert line.endswith("; no evaluation during training")
    assert not [claim for claim in ("fashion-captions", "60k", "data.root", "Fashion-MNIST") if claim in line]


def test_the_subtitle_of_a_run_of_an_older_version(bare_run):
    assert _subtitle(write_report(bare_run)) == [
        ("gan/mlp on toy-ring (200 points in 2-D), 4 steps of batch 256, non-saturating loss, Adam 1e-3, EMA of G; "
        "no evaluation during training")]


def test_numbers_tables_last_eval_and_other_figures(bare_run):
    (bare_run / "eval.json").write_text(json.dumps({
        "values": {"fd_classifier": 12.345678, "modes_captured": 7, "tiny": 3.2558e-16, "reverse_kl": float("inf")},
        "protocol": {"n_real": 100, "extractor": "fashion-mnist-classifier", "nested": {"a": 1}}}))
    with open(bare_run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 40, "images": 320, "eval_fd_classifier": 99.87654}) + "\n")
        f.write(json.dumps({"step": 50, "images": 400, "loss_d": 1.0}) + "\n")
        f.write('{"step": 60, "loss')  # a line cut short by a crash
    _png(bare_run / "nearest.png", (200, 0, 0))
    _png(bare_run / "modes.png", (0, 200, 0))  # a figure the page does not know by name
    _png(bare_run / "samples.png", (0, 0, 200))  # the last frame again: not shown twice
    page = Page(write_report(bare_run))
    cells = [t.strip() for t in page.text if t.strip()]
    assert cells[cells.index("fd_classifier") + 1] == "12.35"
    assert cells[cells.index("modes_captured") + 1] == "7"
    assert cells[cells.index("tiny") + 1] == "3.256e-16"
    assert cells[cells.index("reverse_kl") + 1] == "inf"
    assert cells[cells.index("n_real") + 1] == "100"
    assert cells[cells.index("nested") + 1] == '{"a": 1}'
    assert "Last evaluation during training" in cells and "metrics.jsonl, step 40" in cells
    assert cells[cells.index("fd_classifier", cells.index("metrics.jsonl, step 40")) + 1] == "99.88"
    colours = sorted(_decode(a["src"]).getpixel((0, 0)) for a in page.all("img"))
    assert colours == [(0, 200, 0), (200, 0, 0)]
    assert "modes.png" in cells and not page.all("input")  # no frames, no slider


def test_family_series_and_frames_beyond_the_limit(bare_run):
    n = MAX_FRAMES + 30
    for step in range(0, 10 * n, 10):
        _png(bare_run / "samples" / f"step_{step:06d}.png", (step % 256, 0, 0))
    _png(bare_run / "samples" / f"recon_{10 * (n - 1):06d}.png")  # a family's own series (aae: recon_*.png)
    _png(bare_run / "recon.png")  # the family's latest picture: the series already shows it
    page = Page(write_report(bare_run))
    data = page.frames()
    assert len(data["steps"]) == MAX_FRAMES and data["steps"][0] == 0 and data["steps"][-1] == 10 * (n - 1)
    assert data["steps"] == sorted(set(data["steps"]))
    samples, recon = data["series"]
    assert samples["title"].startswith("Samples") and len(samples["frames"]) == MAX_FRAMES
    assert recon["steps"] == [10 * (n - 1)] and "recon.png" not in " ".join(page.text)
    assert len(page.all("img")) == 2  # one picture per series, moved by one slider


def test_frames_of_an_image_to_image_run_are_outputs_for_fixed_inputs(bare_run):
    described = json.loads((bare_run / "run.json").read_text())
    described["data"].update(kind="image", shape=[1, 32, 32], input_shape=[1, 32, 32], paired=True)
    (bare_run / "run.json").write_text(json.dumps(described))
    _png(bare_run / "samples" / "step_000004.png")
    page = write_report(bare_run)
    assert "Outputs for fixed inputs, step 4" in Page(page).text  # held-out inputs, not noise
    assert _subtitle(page)[0].startswith("gan/mlp on toy-ring (200 pairs, 1x32x32 -> 1x32x32), 4 steps")


def test_refuses_to_overwrite_without_force(image_run, tmp_path):
    out = tmp_path / "r.html"
    write_report(image_run, out=out)
    out.write_text("mine")
    with pytest.raises(UserError, match="--force") as e:
        write_report(image_run, out=out)
    assert str(out) in str(e.value) and "\n" not in str(e.value)
    assert out.read_text() == "mine"
    write_report(image_run, out=out, force=True)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # written atomically: no temporary left


def test_a_missing_folder_or_not_a_run_is_one_line(tmp_path):
    with pytest.raises(UserError, match="does not exist") as e:
        write_report(tmp_path / "nope")
    assert "nope" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UserError, match="not a ganforge run"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_command_line_arguments_and_main(bare_run, tmp_path, capsys):
    args = build_parser().parse_args(["report", str(bare_run)])
    assert args.out is None and not args.force
    assert not {"checkpoint", "device"} & set(vars(args))  # the page reads the folder; no network is loaded
    assert cli(["report", str(bare_run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {bare_run / 'report.html'}"
    out = tmp_path / "x.html"
    assert cli(["report", str(bare_run), "--out", str(out), "--force"]) == 0
    assert out.is_file() and capsys.readouterr().out.strip() == f"wrote {out}"


# -- the page in a headless browser, driven over the DevTools protocol (tests/devtools.py) ---------------------


@pytest.mark.parametrize("name", ["image_run", "toy_run"])
def test_in_a_browser_the_slider_steps_through_frames(name, request, browser, tmp_path):
    run = request.getfixturevalue(name)
    out = write_report(run, out=tmp_path / "report.html")
    frames = sorted((run / "samples").glob("step_*.png"))
    steps = [int(p.stem.split("_")[1]) for p in frames]
    tab = open_page(browser, out.as_uri())
    try:
        shown = ("[document.getElementById('step-label').textContent, document.getElementById('caption-0')"
                 ".textContent, document.getElementById('frame-0').src]")
        label, caption, src = tab.evaluate(shown)
        assert label == f"step {steps[-1]}" and caption.endswith(f", step {steps[-1]}")
        assert base64.b64decode(src.split(",", 1)[1]) == frames[-1].read_bytes()
        for i in (0, 1):  # move the slider as a user would: a new value, then an input event
            label, caption, src = tab.evaluate(
                f"(() => {{ const s = document.getElementById('step'); s.value = {i}; "
                f"s.dispatchEvent(new Event('input', {{bubbles: true}})); return {shown}; }})()")
            assert label == f"step {steps[i]}" and caption == f"Samples (fixed noise), step {steps[i]}"
            assert base64.b64decode(src.split(",", 1)[1]) == frames[i].read_bytes()
        # every picture decoded (an undecodable data: URI has naturalWidth 0)
        assert tab.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        shot = tab.call("Page.captureScreenshot", format="png")
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"))
        assert image.shape[0] > 100 and image.std() > 5
        colours = (image[..., 0].astype(np.int32) << 16) | (image[..., 1].astype(np.int32) << 8) | image[..., 2]
        assert len(np.unique(colours)) > 10  # text, plots and samples, not a blank or one-colour page
        tab.evaluate("console.log('the console is listened to')")
        tab.wait_for("Runtime.consoleAPICalled")  # the listening works, so no errors means none happened
        assert tab.errors() == []
    finally:
        tab.close()
