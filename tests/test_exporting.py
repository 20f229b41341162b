"""`ganforge export` for every family: the file (TorchScript with torch alone; ONNX in onnxruntime where
installed) gives what the run's Generator gives for the same inputs, through the Generator's own methods
(sampling, translate at two sizes, captions by embed, predict); its metadata says how to make the inputs; a
trace that does not reproduce the generator is a one-line error, with nothing written."""

import argparse
import csv
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge import checkpoint as ckpt
from ganforge import runs
from ganforge.cli import main as cli_main
from ganforge.data import load_dataset
from ganforge.data import moving_mnist as mm
from ganforge.errors import UserError
from ganforge.exporting import FORMATS, add_arguments, export_generator, main, read_metadata
from ganforge.families.gan import GANGenerator
from ganforge.generator import ExportModule
from ganforge.version import __version__

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))
NO_ONNX = 'needs onnx, onnxruntime and onnxscript: pip install "ganforge[onnx]"'
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# torch >= 2.10 calls torch.jit deprecated; the TorchScript format is what this command writes
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

QUIET = ["--quiet", "--set", "log.tensorboard=false", "--set", "eval.every=0"]


def sets(*pairs: str) -> list[str]:
    return [a for p in pairs for a in ("--set", p)]


WIDTHS = sets("family.g_width=8", "family.d_width=8")
RUNS = {  # name -> `ganforge train` arguments (a data folder the test writes: {data}): tiny runs of each family
    "gan": ["--config", "cgan-mnist", "--data", "fashion-mnist-10k", "--steps", "2", *WIDTHS,
            *sets("train.batch_size=8", "train.ema=0.999")],  # conditional (z and c), averaged G
    "toy": ["--config", "toy-ring", "--steps", "2", *sets("train.batch_size=64")],
    "progan": ["--config", "progan-fashion", "--steps", "2",
               *sets("family.g_width=4", "family.d_width=4", "family.max_channels=8", "family.batch_sizes=[8,8,8]")],
    "stylegan": ["--config", "stylegan-fashion", "--steps", "2", *WIDTHS,
                 *sets("family.w_dim=16", "family.mapping_layers=2", "family.max_channels=16", "train.batch_size=8")],
    # supervised AAE: its z is a class's component of the 2-D mixture prior, its output tanh(G(z) / 2)
    "aae": ["--config", "aae-mnist-2d", "--data", "fashion-mnist-10k", "--steps", "2",
            *sets("data.holdout=0", "family.hidden=[16,16]", "train.batch_size=16")],
    "vaegan": ["--config", "vaegan-fashion", "--data", "fashion-mnist-10k", "--steps", "2", *WIDTHS,
               *sets("train.batch_size=8")],
    "pix2pix": ["--config", "pix2pix-fashion-edges", "--data", "{data}", "--steps", "2", *WIDTHS,
                *sets("train.batch_size=4")],
    "cyclegan": ["--config", "cyclegan-mnist-colour", "--data", "{data}", "--steps", "2",
                 *sets("family.g_width=4", "family.d_width=8", "family.blocks=1", "train.batch_size=4")],
    "srgan": ["--config", "srgan-fashion-sr4-mse", "--data", "{data}", "--steps", "2", *WIDTHS,
              *sets("family.blocks=1", "train.batch_size=4")],
    "text2image": ["--config", "text2image-fashion", "--data", "{data}", "--steps", "2", *WIDTHS,
                   *sets("family.z_dim=8", "family.pretrain_steps=2", "family.pretrain_batch=8", "train.batch_size=8")],
    "video": ["--config", "video-moving-mnist", "--steps", "2",
              *sets("family.width=4", "family.d_width=4", "train.batch_size=4")],
}
FAMILIES = ("gan", "progan", "stylegan", "aae", "vaegan", "pix2pix", "cyclegan", "srgan", "text2image", "video")
CAPTIONS = ("a {}", "a photo of a {}", "a small {}")

# Loads each exported file with ganforge unimportable, runs it on saved inputs, saves what it returns.
LOAD_WITHOUT_GANFORGE = """
import json, sys
sys.modules["ganforge"] = None  # `import ganforge` (and anything under it) now fails
import torch
from safetensors.torch import load_file, save_file
for model, inputs, out in json.loads(sys.argv[1]):
    files = {"ganforge.json": ""}
    m = torch.jit.load(model, _extra_files=files)
    names = [i["name"] for i in json.loads(files["ganforge.json"])["inputs"]]
    x = load_file(inputs)
    with torch.no_grad():
        save_file({"x": m(*(x[k] for k in names)).contiguous()}, out)
print("loaded", len(json.loads(sys.argv[1])))
"""


# -- data the runs train on, written by the test -------------------------------------------------------------


def images(n: int, size: int | None = None) -> np.ndarray:
    """n embedded Fashion-MNIST images (uint8 n x 28 x 28), padded with black to size x size."""
    x = load_dataset("fashion-mnist-10k").x[:n, 0].numpy()
    pad = 0 if size is None else (size - 28) // 2
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad)))


def write_data(name: str, root: Path) -> Path:
    root.mkdir(parents=True)
    x = images(16)
    if name == "pix2pix":  # paired A/ and B/ at 32 x 32: inverted images -> images
        for side, pictures in (("A", 255 - images(16, 32)), ("B", images(16, 32))):
            (root / side).mkdir()
            for i, p in enumerate(pictures):
                Image.fromarray(p).save(root / side / f"{i}.png")
    elif name == "cyclegan":  # unpaired: gray images <-> red ones
        for side in ("trainA", "trainB"):
            (root / side).mkdir()
        for i, p in enumerate(x):
            Image.fromarray(p).save(root / "trainA" / f"{i}.png")
            Image.fromarray(np.stack([p, p // 4, p // 4], -1)).save(root / "trainB" / f"{i}.png")
    elif name == "srgan":  # paired 7 x 7 -> 28 x 28
        for side in ("A", "B"):
            (root / side).mkdir()
        for i, p in enumerate(x):
            Image.fromarray(p).resize((7, 7), Image.BOX).save(root / "A" / f"{i}.png")
            Image.fromarray(p).save(root / "B" / f"{i}.png")
    elif name == "text2image":  # images with captions naming their class
        y = load_dataset("fashion-mnist-10k").y[:16]
        rows = [["file", "caption"]]
        for i, p in enumerate(x):
            Image.fromarray(p).save(root / f"{i}.png")
            rows += [[f"{i}.png", phrase.format(("shirt", "shoe", "bag")[int(y[i]) % 3])] for phrase in CAPTIONS]
        with open(root / "captions.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> run folder; each trained on first use."""
    root, made = tmp_path_factory.mktemp("runs"), {}
    mp = pytest.MonkeyPatch()

    def get(name):
        if name not in made:
            if name == "video":
                if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
                    pytest.skip(f"moving-mnist is made from MNIST, and it is not in {SHARED_MNIST}")
                mp.setenv("GANFORGE_DATA", str(SHARED_MNIST.parent))
                mp.setattr(mm, "N_TRAIN", 16)
            data = str(write_data(name, root / f"{name}-data")) if "{data}" in RUNS[name] else ""
            args = [a.replace("{data}", data) for a in RUNS[name]]
            assert cli_main(["train", "--out", str(root / name), *QUIET, *args]) == 0
            made[name] = root / name
        return made[name]

    yield get
    mp.undo()


# -- each family's file against its Generator -------------------------------------------------------------------


def tokens_from_metadata(text: dict, captions: list[str]) -> torch.Tensor:
    """Token ids made as the metadata says, without ganforge."""
    index = {w: i for i, w in enumerate(text["vocabulary"])}
    rows = [[index[w] for w in re.findall(text["word_pattern"], c.lower())] for c in captions]
    width = max(map(len, rows))
    return torch.tensor([r + [text["padding_id"]] * (width - len(r)) for r in rows])


def cases(name: str, g, meta: dict) -> list[tuple[dict[str, torch.Tensor], torch.Tensor]]:
    """(inputs of the exported file by name, what the Generator gives for them) for a family's run."""
    seed = torch.Generator().manual_seed(3)
    if name in ("gan", "aae"):  # `--class 7` / `--option class=3`: the option becomes c, or the prior draw
        inputs, _ = g.inputs(5, seed, **{"class": "Sneaker" if name == "gan" else "3"})
        return [(inputs, g(inputs))]
    if name == "stylegan":  # psi 1: as sampled; psi 0.6: pulled toward w's average
        plain, _ = g.inputs(5, seed)
        truncated, _ = g.inputs(5, seed, truncation=0.6)
        return [({**plain, "psi": torch.ones(5)}, g(plain)), (truncated, g(truncated))]
    if name in ("progan", "vaegan"):
        inputs, _ = g.inputs(5, seed)
        return [(inputs, g(inputs))]
    if name in ("pix2pix", "cyclegan", "srgan"):  # the trained size, and a larger one the network divides
        m, c = g.size_multiple(meta["direction"]), meta["inputs"][0]["shape"][1]
        _, _, h, w = g.export_inputs(1, direction=meta["direction"])["image"].shape
        out = []
        for n, size in ((3, (h, w)), (2, (h + m, w + 2 * m))):
            x = torch.rand(n, c, *size, generator=seed) * 2 - 1
            out.append(({"image": x}, g.translate(x, meta["direction"])))
        return out
    if name == "text2image":
        captions = ["a shirt", "a photo of a bag", "a small shoe", "a shoe"]
        z = torch.randn(4, g.family.z_dim, generator=seed)
        return [({"z": z, "tokens": tokens_from_metadata(meta["text"], captions)}, g({"z": z, "e": g.embed(captions)}))]
    assert name == "video"
    clips = g.inputs(3, seed)[0]["clip"][:, : mm.INPUT_FRAMES]
    return [({"frames": clips[:, -g.context :]}, g.predict(clips, meta["frames"]["predicted"]))]


def check_file(name, g, path):
    """The exported file's output on each case is the Generator's; returns its metadata."""
    meta = read_metadata(path)
    if meta["format"] == "torchscript":
        m = torch.jit.load(str(path))
        run = lambda inputs: m(*inputs.values())
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == [i["name"] for i in meta["inputs"]]
        run = lambda inputs: torch.from_numpy(session.run(None, {k: v.numpy() for k, v in inputs.items()})[0])
    for inputs, expected in cases(name, g, meta):
        assert list(inputs) == [i["name"] for i in meta["inputs"]]
        with torch.no_grad():
            got = run(inputs)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    return meta


# torch's ONNX exporter (torch.export) takes several seconds a network: beyond one family it runs with -m slow
ONNX = pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)


@pytest.mark.parametrize(("name", "format"), [
    *((name, "torchscript") for name in FAMILIES),
    pytest.param("pix2pix", "onnx", marks=ONNX),  # free height and width
    *(pytest.param(name, "onnx", marks=[ONNX, pytest.mark.slow]) for name in FAMILIES if name != "pix2pix")])
def test_the_file_gives_what_the_generator_gives(name, format, trained, tmp_path):
    run = trained(name)
    path = export_generator(run, format=format, out=tmp_path / f"{name}{FORMATS[format]}")
    g = runs.load_generator(run, device="cpu")
    meta = check_file(name, g, path)
    assert meta["family"] == name and meta["step"] == 2 and meta["format"] == format
    assert [i["name"] for i in meta["inputs"]] == list(g.export_inputs())
    check_shapes(name, meta)
    if name == "cyclegan":  # the other generator, on request
        back = check_file(name, g, export_generator(run, format=format, out=tmp_path / "ba", direction="BA"))
        assert back["direction"] == "BA" and back["inputs"][0]["shape"] == ["N", 3, "H", "W"]


def check_shapes(name: str, meta: dict) -> None:
    """The metadata's shapes of a family's inputs and output, with their free dimensions named."""
    shapes = {i["name"]: i["shape"] for i in meta["inputs"]}
    expected = {
        "gan": ({"z": ["N", 100], "c": ["N", 10]}, ["N", 1, 28, 28]),
        "progan": ({"z": ["N", 128]}, ["N", 1, 28, 28]),
        "stylegan": ({"z": ["N", 128], "psi": ["N"]}, ["N", 1, 28, 28]),
        "aae": ({"z": ["N", 2]}, ["N", 1, 28, 28]),
        "vaegan": ({"z": ["N", 64]}, ["N", 1, 28, 28]),
        "pix2pix": ({"image": ["N", 1, "H", "W"]}, ["N", 1, "H", "W"]),
        "cyclegan": ({"image": ["N", 1, "H", "W"]}, ["N", 3, "H", "W"]),
        "srgan": ({"image": ["N", 1, "H", "W"]}, ["N", 1, "4*H", "4*W"]),
        "text2image": ({"z": ["N", 8], "tokens": ["N", "L"]}, ["N", 1, 28, 28]),
        "video": ({"frames": ["N", 4, 64, 64]}, ["N", 10, 64, 64]),
    }[name]
    assert (shapes, meta["output"]["shape"]) == expected


def test_the_files_load_and_run_with_ganforge_unimportable(trained, tmp_path):
    jobs, expected = [], {}
    for name in ("gan", "text2image"):  # two inputs; an integer input
        run = trained(name)
        path = export_generator(run, out=tmp_path / f"{name}.pt")
        g = runs.load_generator(run, device="cpu")
        [(inputs, expected[name]), *_] = cases(name, g, read_metadata(path))
        save_file({k: v.contiguous() for k, v in inputs.items()}, tmp_path / f"{name}-in.safetensors")
        jobs.append([str(path), str(tmp_path / f"{name}-in.safetensors"), str(tmp_path / f"{name}-out.safetensors")])
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", LOAD_WITHOUT_GANFORGE, json.dumps(jobs)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"loaded {len(jobs)}"
    for name, want in expected.items():
        torch.testing.assert_close(load_file(tmp_path / f"{name}-out.safetensors")["x"], want)


def test_export_holds_the_averaged_generator_alone(trained, tmp_path):
    run = trained("gan")
    path = export_generator(run, out=tmp_path / "g.pt")
    assert read_metadata(path)["ema"] is True
    g = runs.load_generator(run, device="cpu")
    inputs = g.noise(4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        exported = torch.jit.load(str(path))(*inputs.values())
    torch.testing.assert_close(exported, g(inputs))
    # the live G of the same checkpoint samples something else: the file holds the average
    model, _, _ = ckpt.load_checkpoint(ckpt.resolve_checkpoint(run, None), model_only=True)
    g.family.networks["G"].load_state_dict(ckpt.split_prefixed(model, "G."))
    assert (g(inputs) - exported).abs().max() > 1e-3
    # only the generator's weights travel: the file has G's tensors, and no D
    n_weights = sum(t.numel() for t in torch.jit.load(str(path)).state_dict().values())
    assert n_weights == sum(t.numel() for t in g.family.networks["G"].state_dict().values())


def test_text2image_holds_its_text_encoder_and_says_how_to_make_token_ids(trained):
    run = trained("text2image")
    meta = read_metadata(export_generator(run, force=True))
    g = runs.load_generator(run, device="cpu")
    text = meta["text"]
    assert text["vocabulary"] == g.family.vocab and text["vocabulary"][0] == "<pad>" and text["padding_id"] == 0
    assert {"a", "photo", "of", "shirt", "small"} <= set(text["vocabulary"])
    captions = ["A photo of a shirt.", "a small-shoe bag"]  # case, punctuation, a hyphenated word
    assert torch.equal(tokens_from_metadata(text, captions[:1]), g.family.tokenize(captions[:1]).cpu())
    m = torch.jit.load(str(run / "generator.pt"))
    weights = sum(t.numel() for t in m.state_dict().values())
    assert weights == sum(t.numel() for net in (g.network(), g.family.T) for t in net.state_dict().values())
    # padding is free: one caption alone, and padded to the length of a longer one, give the same image
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(0))
    tokens = tokens_from_metadata(text, ["a shirt"])
    with torch.no_grad():
        alone, padded = m(z, tokens), m(z, torch.nn.functional.pad(tokens, (0, 5)))
    torch.testing.assert_close(alone, padded)


def test_metadata_and_what_main_prints(trained, tmp_path, capsys):
    run = trained("gan")
    out = tmp_path / "sub" / "cgan.pt"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args([str(run), "--out", str(out)])) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: the generator of {run} at step 2 (the EMA of G's weights), torchscript" in printed
    assert ("inputs: z (N x 100) float32 standard normal, c (N x 10) float32 one-hot; "
            "output: N x 1 x 28 x 28 float32 in [-1, 1]") in printed
    meta = read_metadata(out)
    assert meta["inputs"][1]["about"].startswith("the condition: one-hot of the class")
    assert meta["dataset"] == "fashion-mnist-10k" and meta["class_names"][7] == "Sneaker"
    assert (meta["step"], meta["ema"], meta["ganforge_version"]) == (2, True, __version__)
    assert not list(out.parent.glob(".tmp-*"))  # written through a temporary file, none left behind

    aae = read_metadata(export_generator(trained("aae"), force=True))
    assert aae["inputs"][0]["kind"] == "mixture prior" and aae["inputs"][0]["prior"]["components"] == 10
    toy = read_metadata(export_generator(trained("toy"), force=True))
    assert toy["output"] == {"name": "x", "shape": ["N", 2], "dtype": "float32", "range": None,
                             "about": "points in the data's own coordinates"}
    video = read_metadata(export_generator(trained("video"), force=True, frames=3))
    assert video["frames"]["predicted"] == 3 and video["output"]["shape"] == ["N", 3, 64, 64]
    assert "frames" in video["output"]["about"] and "point" not in json.dumps(video)


class BatchBranch(nn.Module):
    """A module whose output depends on the batch size through Python: a trace bakes in the branch it took."""

    def __init__(self, g):
        super().__init__()
        self.inner = ExportModule({"generator": g.network()}, g.family.decode, ("z", "c"))

    def forward(self, z, c):
        x = self.inner(z, c)
        return x if z.shape[0] > 3 else -x


def test_a_trace_that_does_not_reproduce_the_generator_is_one_line_and_writes_nothing(trained, tmp_path, monkeypatch):
    run = trained("gan")
    monkeypatch.setattr(GANGenerator, "export_module", lambda self, **options: BatchBranch(self))
    out = tmp_path / "g.pt"
    with pytest.raises(UserError) as e:
        export_generator(run, out=out)
    message = str(e.value)
    assert "\n" not in message and message.startswith("the TorchScript trace does not reproduce the generator")
    assert "z 3 x 100, c 3 x 10" in message and "nothing was written" in message
    assert not out.exists() and not list(tmp_path.iterdir())
    # a size baked into a reshape fails on the check's inputs: one line too
    monkeypatch.setattr(GANGenerator, "export_module", lambda self, **options: ExportModule(
        {"generator": self.network()}, lambda i: self.family.decode(i).reshape(len(i["z"]), 1, 28, 28), ("z", "c")))
    with pytest.raises(UserError, match=r"^the TorchScript trace .* it fails \(") as e:
        export_generator(run, out=out)
    assert "\n" not in str(e.value) and not out.exists()


def test_options_that_do_not_fit_the_run_are_refused(trained):
    with pytest.raises(UserError, match=r"--direction BA: the pix2pix family translates AB$"):
        export_generator(trained("pix2pix"), direction="BA", force=True)
    with pytest.raises(UserError, match=r"--direction picks .* the gan family's generator cannot"):
        export_generator(trained("gan"), direction="AB", force=True)
    with pytest.raises(UserError, match=r"--frames sets .* the gan family's generator cannot"):
        export_generator(trained("gan"), frames=3, force=True)


def test_refuses_to_overwrite_without_force(trained, tmp_path):
    run = trained("toy")
    out = tmp_path / "g.pt"
    out.write_bytes(b"keep me")
    with pytest.raises(UserError) as e:
        export_generator(run, out=out)
    message = str(e.value)
    assert str(out) in message and "--force" in message and "\n" not in message
    assert out.read_bytes() == b"keep me"
    assert export_generator(run, out=out, force=True) == out
    assert read_metadata(out)["dataset"] == "toy-ring"


def test_bad_format_and_missing_run_are_one_line_errors(trained, tmp_path):
    with pytest.raises(UserError, match=r"--format tflite: not an export format; use torchscript or onnx"):
        export_generator(trained("toy"), format="tflite")
    with pytest.raises(UserError, match="no-such-run") as e:
        export_generator(tmp_path / "no-such-run")
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="no best checkpoint"):
        export_generator(trained("toy"), checkpoint="best", out=tmp_path / "best.pt")
    assert not (tmp_path / "best.pt").exists()


def test_onnx_without_its_packages_says_what_to_install(trained, monkeypatch):
    monkeypatch.setattr("ganforge.exporting.ONNX_PACKAGES", ("onnx", "no_such_package_ganforge"))
    with pytest.raises(UserError, match=r'no_such_package_ganforge .*pip install "ganforge\[onnx\]"'):
        export_generator(trained("toy"), format="onnx")


@pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)
def test_onnx_metadata_and_any_batch_size(trained):
    import onnx

    run = trained("gan")
    path = export_generator(run, format="onnx", force=True)
    assert path == run / "generator.onnx"
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props["ganforge"])
    assert meta == read_metadata(path)
    assert meta["format"] == "onnx" and meta["class_names"][7] == "Sneaker" and meta["step"] == 2
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["x"]
    g = runs.load_generator(run, device="cpu")
    for n in (1, 7):
        inputs = g.noise(n, torch.Generator().manual_seed(n))
        (got,) = session.run(None, {k: v.numpy() for k, v in inputs.items()})
        torch.testing.assert_close(torch.from_numpy(got), g(inputs), rtol=1e-4, atol=1e-5)
