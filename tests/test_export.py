"""`ganforge export`: the generator alone, as TorchScript (and ONNX where onnxruntime is installed), reproducing
`family.generator()(inputs)` with torch alone."""

import argparse
import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from ganforge import checkpoint as ckpt
from ganforge import runs
from ganforge.cli import main as cli_main
from ganforge.errors import UserError
from ganforge.exporting import add_arguments, export_generator, main, read_metadata
from ganforge.version import __version__

QUIET = ["--quiet", "--set", "log.tensorboard=false", "--set", "eval.every=0"]
TINY = ["--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=16"]
RUNS = {  # name -> `ganforge train` arguments: tiny runs of each kind the exporter must handle
    "toy": ["--config", "toy-ring", "--steps", "20", "--set", "train.batch_size=64"],
    "dcgan_ema": ["--steps", "10", *TINY, "--set", "train.ema=0.999"],  # the default preset's DCGAN, averaged G
    "cgan": ["--config", "cgan-mnist", "--data", "fashion-mnist-10k", "--steps", "5", *TINY],
    # supervised AAE: its noise is a class's component of the 2-D mixture prior, its decode tanh(G(z) / 2)
    "aae": ["--config", "aae-mnist-2d", "--data", "fashion-mnist-10k", "--steps", "10", "--set", "data.holdout=0",
            "--set", "family.hidden=[32,32]", "--set", "train.batch_size=16"],
}
HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))
# torch >= 2.10 calls torch.jit deprecated; the TorchScript format is what this command writes
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> run folder; each trained on first use."""
    root, made = tmp_path_factory.mktemp("runs"), {}

    def get(name):
        if name not in made:
            run = root / name
            assert cli_main(["train", "--out", str(run), *QUIET, *RUNS[name]]) == 0
            made[name] = run
        return made[name]

    return get


def _inputs(family, name):
    g = torch.Generator().manual_seed(3)
    if name == "cgan":  # `--class Sneaker`: the option becomes the condition input
        return family.sample_inputs(5, g, **{"class": "Sneaker"})[0]
    if name == "aae":  # `--option class=3`: the option becomes the prior draw
        return family.sample_inputs(5, g, **{"class": "3"})[0]
    return family.noise(5, g)


def test_torchscript_reproduces_sampling_with_torch_alone(trained, tmp_path):
    jobs, expected = [], {}
    for name in RUNS:
        run = trained(name)
        path = export_generator(run)
        assert path == run / "generator.pt"
        family, _, _ = runs.load_family(run, device="cpu")
        inputs = _inputs(family, name)
        expected[name] = family.generator()(inputs)
        save_file({k: v.contiguous() for k, v in inputs.items()}, tmp_path / f"{name}-in.safetensors")
        jobs.append([str(path), str(tmp_path / f"{name}-in.safetensors"), str(tmp_path / f"{name}-out.safetensors")])
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", LOAD_WITHOUT_GANFORGE, json.dumps(jobs)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"loaded {len(RUNS)}"
    for name in RUNS:
        got = load_file(tmp_path / f"{name}-out.safetensors")["x"]
        torch.testing.assert_close(got, expected[name])
    assert expected["cgan"].shape == (5, 1, 28, 28) and expected["toy"].shape == (5, 2)


def test_export_holds_the_averaged_generator(trained):
    run = trained("dcgan_ema")
    path = export_generator(run, force=True)
    assert read_metadata(path)["ema"] is True
    family, _, _ = runs.load_family(run, device="cpu")
    z = family.noise(4, torch.Generator().manual_seed(0))["z"]
    with torch.no_grad():
        exported = torch.jit.load(str(path))(z)
    torch.testing.assert_close(exported, family.generator()({"z": z}))
    # the live G of the same checkpoint samples something else: the file holds the average
    model, _, _ = ckpt.load_checkpoint(ckpt.resolve_checkpoint(run, None), model_only=True)
    family.networks["G"].load_state_dict(ckpt.split_prefixed(model, "G."))
    assert (family.generator()({"z": z}) - exported).abs().max() > 1e-3
    # only the generator's weights travel: the file has G's tensors, and no D
    n_weights = sum(t.numel() for t in torch.jit.load(str(path)).state_dict().values())
    assert n_weights == sum(t.numel() for t in family.networks["G"].state_dict().values())


def test_metadata_and_what_main_prints(trained, tmp_path, capsys):
    run = trained("cgan")
    out = tmp_path / "sub" / "cgan.pt"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args([str(run), "--out", str(out)])) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: the generator of {run} at step 5 (G's weights), torchscript" in printed
    assert ("inputs: z (N x 100) float32 standard normal, c (N x 10) float32 one-hot; "
            "output: N x 1 x 28 x 28 float32 in [-1, 1]") in printed
    meta = read_metadata(out)
    assert [i["name"] for i in meta["inputs"]] == ["z", "c"]
    assert meta["inputs"][1]["shape"] == ["N", 10] and meta["output"]["range"] == [-1.0, 1.0]
    assert meta["dataset"] == "fashion-mnist-10k" and meta["class_names"][7] == "Sneaker"
    assert (meta["step"], meta["ema"], meta["condition"], meta["ganforge_version"]) == (5, False, "cgan", __version__)
    assert not list(out.parent.glob(".tmp-*"))  # written through a temporary file, none left behind

    aae = read_metadata(export_generator(trained("aae"), force=True))
    assert aae["inputs"][0]["kind"] == "mixture prior" and aae["inputs"][0]["prior"]["components"] == 10
    toy = read_metadata(export_generator(trained("toy"), force=True))
    assert toy["output"] == {"name": "x", "shape": ["N", 2], "dtype": "float32", "range": None,
                             "about": "points in the data's own coordinates"}


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


@pytest.mark.skipif(not HAS_ONNX, reason='needs onnx, onnxruntime and onnxscript: pip install "ganforge[onnx]"')
def test_onnx_runs_in_onnxruntime_with_any_batch_size(trained):
    import onnx
    import onnxruntime

    run = trained("cgan")  # two inputs, z and c
    path = export_generator(run, format="onnx")
    assert path == run / "generator.onnx"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "c"]
    assert [o.name for o in session.get_outputs()] == ["x"]
    family, _, _ = runs.load_family(run, device="cpu")
    for n in (1, 7):
        inputs = family.noise(n, torch.Generator().manual_seed(n))
        (got,) = session.run(None, {k: v.numpy() for k, v in inputs.items()})
        torch.testing.assert_close(torch.from_numpy(got), family.generator()(inputs), rtol=1e-4, atol=1e-5)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props["ganforge"])
    assert meta == read_metadata(path)
    assert meta["format"] == "onnx" and meta["class_names"][7] == "Sneaker" and meta["step"] == 5
