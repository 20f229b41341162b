"""`ganforge export`: a run's generator alone, as a TorchScript or ONNX file that loads without ganforge.

The exported module is the family's sampling path (`Family.decode`) with the sampling network's weights (the
EMA average when the run kept one, as `runs.load_family` loads it). It takes the tensors `Family.noise(n, g)`
draws, as positional inputs in that order (z first; a conditional generator's condition vector second), and
returns what the run's Generator returns for the same inputs: N samples in the data's range.

    m = torch.jit.load("RUN/generator.pt")          # no ganforge needed
    x = m(torch.randn(16, 100))                     # 16 x 1 x 28 x 28 in [-1, 1]

Metadata (inputs, output, dataset, class names, step, versions) travels inside the file as JSON: the
TorchScript file's extra file `ganforge.json` (`torch.jit.load(path, _extra_files={"ganforge.json": ""})`),
the ONNX model's metadata_props key `ganforge`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from ganforge import runs
from ganforge.data import priors
from ganforge.errors import UserError
from ganforge.families import Family
from ganforge.files import atomic_write
from ganforge.version import __version__

HELP = "write a run's generator as a TorchScript or ONNX file that loads without ganforge"
DESCRIPTION = ("Write the generator of a run (its EMA weights when the run kept them) as a file that loads with "
               "torch alone (TorchScript, torch.jit.load) or with onnxruntime (ONNX). It takes the inputs "
               "`ganforge sample` draws, as positional inputs: z, and for a conditional run the condition c; it "
               "returns the samples. Inputs, output, classes and step are stored in the file as JSON.")
FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
METADATA_KEY = "ganforge.json"  # TorchScript extra file; ONNX metadata_props uses "ganforge"
ONNX_METADATA_KEY = "ganforge"
ONNX_PACKAGES = ("onnx", "onnxruntime", "onnxscript")  # onnxscript: torch's (dynamo) ONNX exporter needs it
LOAD_HINT = {"torchscript": f"torch.jit.load(path, _extra_files={{'{METADATA_KEY}': ''}})",
             "onnx": f"the model's metadata_props['{ONNX_METADATA_KEY}']"}
TRACE_N, CHECK_N = 4, 3  # batch sizes of the trace and of the check: different, so a baked-in batch size shows


def add_arguments(p) -> None:
    """The options of `ganforge export` on an argparse parser."""
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by `ganforge train`")
    p.add_argument("--format", default="torchscript", choices=sorted(FORMATS),
                   help="torchscript (torch.jit.load, default) or onnx (needs pip install \"ganforge[onnx]\")")
    p.add_argument("--out", metavar="FILE", help="output file (default: RUN_DIR/generator.pt or RUN_DIR/generator.onnx)")
    p.add_argument("--checkpoint", metavar="DIR|best",
                   help="a checkpoint folder, or 'best' (the best evaluation score; default: the latest)")
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")


def main(args) -> int:
    """`ganforge export ARGS`: write the file, print where and its input signature."""
    path = export_generator(args.run_dir, format=args.format, out=args.out, checkpoint=args.checkpoint,
                            force=args.force)
    meta = read_metadata(path)  # read back from the file: what is printed is what it holds
    weights = "the EMA of G's weights" if meta["ema"] else "G's weights"
    print(f"wrote {path}: the generator of {args.run_dir} at step {meta['step']} ({weights}), {meta['format']}")
    print(signature(meta))
    load = (f"torch.jit.load({str(path)!r})" if meta["format"] == "torchscript"
            else f"onnxruntime.InferenceSession({str(path)!r})")
    print(f"load it with {load}; metadata: {LOAD_HINT[meta['format']]}")
    return 0


def default_out(run_dir: Path | str, format: str = "torchscript") -> Path:
    return Path(run_dir) / f"generator{FORMATS[format]}"


def export_generator(run_dir: Path | str, format: str = "torchscript", out: Path | str | None = None,
                     checkpoint: Path | str | None = None, force: bool = False) -> Path:
    """Write the run's generator to `out` (default RUN/generator.pt or .onnx) and return its path. Refuses an
    existing file unless `force`; the file appears whole or not at all."""
    if format not in FORMATS:
        raise UserError(f"--format {format}: not an export format; use {' or '.join(FORMATS)}")
    run_dir = runs.require_run(run_dir)
    out = Path(out) if out is not None else default_out(run_dir, format)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; use --force to overwrite it")
    if format == "onnx":
        _check_onnx_available()

    # On the CPU: the file then loads anywhere (a TorchScript trace keeps the device it was traced on).
    family, data, step = runs.load_family(run_dir, checkpoint, device="cpu")
    family.requires_grad_(False)  # the loaded module then needs no autograd bookkeeping
    example = family.noise(TRACE_N, torch.Generator().manual_seed(0))
    check = family.noise(CHECK_N, torch.Generator().manual_seed(1))
    expected = family.generator()(check)
    module = SamplingModule(family, list(example)).eval()
    meta = metadata(family, data, step, example, expected, format)

    if format == "torchscript":
        with torch.no_grad(), _quiet():
            traced = torch.jit.trace(module, tuple(example.values()), check_trace=False)
            _check_same(traced(*check.values()), expected, "the TorchScript trace")
            with atomic_write(out) as f:
                torch.jit.save(traced, f, _extra_files={METADATA_KEY: json.dumps(meta)})
    else:
        proto = _onnx_model(module, example, meta)
        _check_onnx(proto, check, expected)
        with atomic_write(out) as f:
            f.write(proto.SerializeToString())
    return out


class SamplingModule(nn.Module):
    """Family.decode over positional inputs. The sampling network is the only submodule, so the export holds
    the generator's weights alone (not D's or an encoder's); decode itself is the family's, so the export
    returns exactly what sampling returns (the AAE's tanh of half the decoder's logits, for one)."""

    def __init__(self, family: Family, names: list[str]):
        super().__init__()
        if family.sampler() is not family.networks[family.SAMPLER]:
            raise ValueError("export needs a family loaded by runs.load_family (no live EMA attached)")
        self.generator = family.networks[family.SAMPLER]  # the same module decode calls
        self.names = names
        self.decode = family.decode  # a bound method, not a submodule: the family's other networks stay out

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.decode(dict(zip(self.names, inputs)))


# -- metadata ------------------------------------------------------------------------------------------------------


def metadata(family: Family, data: dict, step: int, example: dict[str, torch.Tensor], output: torch.Tensor,
             format: str) -> dict:
    """What a user of the file needs to know, as JSON-ready values."""
    cfg = family.cfg
    notes = input_notes(family)
    inputs = [{"name": name, "shape": ["N", *t.shape[1:]], "dtype": _dtype(t),
               **notes.get(name, {"kind": "", "about": "as the family's noise() draws it"})}
              for name, t in example.items()]
    image = data["kind"] == "image"
    return {
        "format": format,
        "inputs": inputs,
        "output": {"name": "x", "shape": ["N", *output.shape[1:]], "dtype": _dtype(output),
                   "range": [-1.0, 1.0] if image else None,
                   "about": ("images N x C x H x W in [-1, 1]: pixel value = (x + 1) * 127.5" if image
                             else "points in the data's own coordinates")},
        "family": cfg.model.family,
        "arch": cfg.family.get("arch"),  # the gan family's network
        "condition": cfg.family.get("condition") if family.conditional else None,
        "dataset": data["name"],
        "class_names": data.get("class_names"),
        "attr_names": data.get("attr_names") or None,
        "step": step,
        "ema": cfg.train.ema > 0,  # checkpoints of such runs hold the average, and load_family loads it
        "ganforge_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
    }


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def input_notes(family: Family) -> dict[str, dict]:
    """Input name -> {"kind": a few words, "about": how to draw it} for the families ganforge has, so a user
    without ganforge can feed the file; the sampling options (--class, --attr) become what goes into c or z."""
    cfg = family.cfg
    if cfg.model.family == "aae":
        o = family.options
        if o.prior == "gaussian":
            return {"z": {"kind": "standard normal", "about": "the code: N(0, I), the prior the encoder matched"}}
        k = getattr(family, "n_classes", 0)
        prior = {"name": o.prior, "components": max(k, 10)}  # sample_prior's component count
        if o.prior == "mixture":
            prior.update(radius=priors.MIXTURE_RADIUS, std_radial=priors.MIXTURE_STD_RADIAL,
                         std_tangential=priors.MIXTURE_STD_TANGENTIAL)
        else:
            prior.update(radius=priors.SWISS_RADIUS, turns=priors.SWISS_TURNS, noise=priors.SWISS_NOISE)
        which = ("component k makes class k (class_names order)" if k else "any component")
        return {"z": {"kind": f"{o.prior} prior", "prior": prior,
                      "about": f"the code: a draw from the 2-D {o.prior} prior as ganforge.data.priors.sample_prior "
                               f"draws it; {which}"}}
    notes = {"z": {"kind": "standard normal", "about": "noise: N(0, I)"}}
    if family.conditional and family.attributes:
        notes["c"] = {"kind": "0/1 attributes", "about": "the condition: one 0/1 value per attribute, attr_names order"}
    elif family.conditional:
        notes["c"] = {"kind": "one-hot", "about": "the condition: one-hot of the class, class_names order"}
    return notes


def signature(meta: dict) -> str:
    """One line: "inputs: z (N x 100) float32 standard normal, c (N x 10) float32 one-hot; output: ..."."""
    def shape(s: list) -> str:
        return " x ".join(str(d) for d in s)

    inputs = ", ".join(f"{i['name']} ({shape(i['shape'])}) {i['dtype']}" + (f" {i['kind']}" if i["kind"] else "")
                       for i in meta["inputs"])
    out = meta["output"]
    where = f" in [{out['range'][0]:g}, {out['range'][1]:g}]" if out["range"] else ""
    return f"inputs: {inputs}; output: {shape(out['shape'])} {out['dtype']}{where}"


def read_metadata(path: Path | str) -> dict:
    """The metadata of an exported file (TorchScript or ONNX)."""
    path = Path(path)
    if not zipfile.is_zipfile(path):  # TorchScript files are zip archives; ONNX files protobuf
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return json.loads(props[ONNX_METADATA_KEY])
    files = {METADATA_KEY: ""}
    with _quiet():
        torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    return json.loads(files[METADATA_KEY])


# -- checks and ONNX ----------------------------------------------------------------------------------------------


def _check_same(got: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """The export must reproduce sampling; a trace can silently bake in a Python value (a batch size)."""
    if got.shape != expected.shape or not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"{what} does not reproduce the family's samples (shape {tuple(got.shape)} vs "
                           f"{tuple(expected.shape)}); this network cannot be exported this way")


@contextlib.contextmanager
def _quiet():
    """Silence what torch says while exporting that is no news to a user: torch.jit's deprecation notes (torch
    >= 2.10; the TorchScript format still loads everywhere), the ONNX exporter's notes on torchvision operators
    it skips and on the batch dimension shared by z and c."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        warnings.filterwarnings("ignore", module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*LeafSpec")
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def _check_onnx_available() -> None:
    missing = []
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:  # not installed, or installed without its native library
            missing.append(name)
    if missing:
        raise UserError(f"ONNX export needs the {', '.join(missing)} package(s): pip install \"ganforge[onnx]\"")
    # torch's torch.export-based exporter with dynamic_shapes (a free batch size) came with torch 2.6
    if "dynamic_shapes" not in inspect.signature(torch.onnx.export).parameters:
        raise UserError(f"ONNX export needs torch >= 2.6 (this is torch {torch.__version__}); "
                        "export --format torchscript instead, or upgrade torch")


def _onnx_model(module: nn.Module, example: dict[str, torch.Tensor], meta: dict):
    """The ONNX ModelProto of `module` (torch's torch.export-based exporter), batch size left free, metadata set."""
    import onnx

    batch = torch.export.Dim("N", min=1)
    with torch.no_grad(), _quiet():
        program = torch.onnx.export(module, tuple(example.values()), dynamo=True, verbose=False,
                                    input_names=list(example), output_names=["x"],
                                    dynamic_shapes=(tuple({0: batch} for _ in example),))  # one entry: *inputs
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {ONNX_METADATA_KEY: json.dumps(meta)})
    return proto


def _check_onnx(proto, inputs: dict[str, torch.Tensor], expected: torch.Tensor) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    _check_same(torch.from_numpy(got), expected, "the ONNX model")


__all__ = ["DESCRIPTION", "FORMATS", "HELP", "add_arguments", "export_generator", "main", "read_metadata", "signature"]
