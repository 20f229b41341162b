"""`ganforge export`: a run's generator alone, as a TorchScript or ONNX file that loads without ganforge.

The exported module is the run's Generator (`runs.load_generator`) as its `export_module()` gives it, with the
weights it samples with (the EMA average when the run kept one) and no other network's. It takes positional
inputs and returns what the Generator returns for them; each family says which (`export_inputs`,
`export_description`), and the file's metadata repeats it:

- GAN (conditional too), ProGAN, VAE-GAN, AAE: the code z (and the condition c) -> samples. The AAE's z is a
  draw from its prior, described in the metadata.
- StyleGAN: z and psi (one per sample: 1 leaves it as drawn) -> images; psi is the truncation toward w's
  running average.
- pix2pix, SRGAN, CycleGAN: an input image alone -> its translation, at any height and width the network
  divides (the metadata names the multiple). A CycleGAN file holds one of its two generators: A -> B, or with
  `--direction BA` B -> A (one file each: the two take different images, and a user wants one at a time).
- text2image: z and a caption's token ids -> images: the text encoder is inside; the metadata holds the
  vocabulary and how to make the ids.
- video: the last `context` frames of clips (N x context x H x W in [-1, 1]) -> the next n frames, n the run's
  own count unless `--frames N`.

    m = torch.jit.load("RUN/generator.pt")          # no ganforge needed
    x = m(torch.randn(16, 100))                     # 16 x 1 x 28 x 28 in [-1, 1]

The file is checked before it is written: the trace (or the ONNX model, in onnxruntime) must reproduce the
Generator's module on inputs other than the ones it was traced on (another batch size; another image size or
caption length where those are free); a mismatch is refused and nothing is written.

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
from ganforge.errors import UserError
from ganforge.files import atomic_write
from ganforge.generator import Generator, PredictsFrames, Translates, eval_mode, require
from ganforge.version import __version__

HELP = "write a run's generator as a TorchScript or ONNX file that loads without ganforge"
DESCRIPTION = ("Write the generator of a run (its EMA weights when the run kept them) as a file that loads with "
               "torch alone (TorchScript, torch.jit.load) or with onnxruntime (ONNX). It takes positional inputs "
               "and returns the samples: z (and the condition c) for sampling runs, an image for image-to-image "
               "runs, z and a caption's token ids for text-to-image runs, past frames for video runs. Inputs, "
               "output, classes and step are stored in the file as JSON.")
FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
METADATA_KEY = "ganforge.json"  # TorchScript extra file; ONNX metadata_props uses "ganforge"
ONNX_METADATA_KEY = "ganforge"
ONNX_PACKAGES = ("onnx", "onnxruntime", "onnxscript")  # onnxscript: torch's (dynamo) ONNX exporter needs it
LOAD_HINT = {"torchscript": f"torch.jit.load(path, _extra_files={{'{METADATA_KEY}': ''}})",
             "onnx": f"the model's metadata_props['{ONNX_METADATA_KEY}']"}
TRACE_N = 4  # the trace's batch size; the Generator's checks use others, so a baked-in batch size shows
RTOL, ATOL = 1e-4, 1e-5


def add_arguments(p) -> None:
    """The options of `ganforge export` on an argparse parser."""
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by `ganforge train`")
    p.add_argument("--format", default="torchscript", choices=sorted(FORMATS),
                   help="torchscript (torch.jit.load, default) or onnx (needs pip install \"ganforge[onnx]\")")
    p.add_argument("--out", metavar="FILE", help="output file (default: RUN_DIR/generator.pt or RUN_DIR/generator.onnx)")
    p.add_argument("--checkpoint", metavar="DIR|best",
                   help="a checkpoint folder, or 'best' (the best evaluation score; default: the latest)")
    p.add_argument("--direction", metavar="AB|BA",
                   help="image-to-image runs: the translation the file holds (default AB; CycleGAN also BA)")
    p.add_argument("--frames", type=int, metavar="N",
                   help="video runs: frames the file predicts (default: as many as the run predicts)")
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")


def main(args) -> int:
    """`ganforge export ARGS`: write the file, print where and its input signature."""
    path = export_generator(args.run_dir, format=args.format, out=args.out, checkpoint=args.checkpoint,
                            force=args.force, direction=args.direction, frames=args.frames)
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
                     checkpoint: Path | str | None = None, force: bool = False, direction: str | None = None,
                     frames: int | None = None) -> Path:
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
    g = runs.load_generator(run_dir, checkpoint, device="cpu")
    options = export_options(g, direction, frames)
    module = g.export_module(**options)
    module.requires_grad_(False)  # the exported module then needs no autograd bookkeeping
    example = g.export_inputs(TRACE_N, **options)
    checks = g.export_checks(**options)
    with eval_mode(module), torch.no_grad():
        expected = [module(*check.values()) for check in checks]
        meta = metadata(g, g.export_description(**options), example, module(*example.values()), format)
        if format == "torchscript":
            with _quiet():
                traced = torch.jit.trace(module, tuple(example.values()), check_trace=False)
            for check, want in zip(checks, expected, strict=True):
                _check_same(lambda c=check: traced(*c.values()), want, check, "the TorchScript trace")
            with atomic_write(out) as f:
                torch.jit.save(traced, f, _extra_files={METADATA_KEY: json.dumps(meta)})
        else:
            proto = _onnx_model(module, example, meta)
            _check_onnx(proto, checks, expected)
            with atomic_write(out) as f:
                f.write(proto.SerializeToString())
    return out


def export_options(g: Generator, direction: str | None, frames: int | None) -> dict:
    """The Generator's export options from the command line's, each refused where the run has no use for it."""
    options = {}
    if direction is not None:
        require(g, Translates, "--direction picks an image-to-image run's translation", "leave --direction out")
        if direction not in g.directions:
            raise UserError(f"--direction {direction}: the {g.name} family translates {' and '.join(g.directions)}")
        options["direction"] = direction
    if frames is not None:
        require(g, PredictsFrames, "--frames sets how many frames a video run's file predicts", "leave --frames out")
        options["frames"] = frames
    return options


# -- metadata ------------------------------------------------------------------------------------------------------


def metadata(g: Generator, description: dict, example: dict[str, torch.Tensor], output: torch.Tensor,
             format: str) -> dict:
    """What a user of the file needs to know, as JSON-ready values: the Generator's description of inputs and
    output (their dtypes added, their shapes checked against the example), and where the weights came from."""
    inputs = description["inputs"]
    if [i["name"] for i in inputs] != list(example):
        raise ValueError(f"export_description names {[i['name'] for i in inputs]}, export_inputs {list(example)}")
    for i, t in zip(inputs, example.values(), strict=True):
        _check_shape(i["shape"], t, f"input {i['name']}")
        i["dtype"] = _dtype(t)
    _check_shape(description["output"]["shape"], output, "the output")
    return {
        "format": format,
        **description,
        "output": {**description["output"], "dtype": _dtype(output)},
        "family": g.name,
        "dataset": g.data.get("name"),
        "class_names": g.data.get("class_names"),
        "attr_names": g.data.get("attr_names") or None,
        "step": g.step,
        "ema": g.cfg.train.ema > 0,  # checkpoints of such runs hold the average, and load_generator loads it
        "ganforge_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
    }


def _check_shape(shape: list, t: torch.Tensor, what: str) -> None:
    """A described shape (named free dimensions, numbers for fixed ones) fits the tensor the module takes or
    gives: a family's description that does not is a bug."""
    fits = len(shape) == t.dim() and all(isinstance(d, str) or d == n for d, n in zip(shape, t.shape, strict=True))
    if not fits:
        raise ValueError(f"{what}: described as {shape}, the module's is {list(t.shape)}")


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


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


def _check_same(run, expected: torch.Tensor, inputs: dict[str, torch.Tensor], what: str) -> None:
    """The export must reproduce the Generator's module: a trace can silently bake in a Python value (a batch
    size, an image size) or a branch. `run()` gives the export's output on `inputs`; a failure is one line."""
    sizes = ", ".join(f"{k} {' x '.join(map(str, v.shape))}" for k, v in inputs.items())
    refuse = f"{what} does not reproduce the generator on inputs of other sizes ({sizes}): "
    try:
        got = run()
    except RuntimeError as e:  # a size baked into a reshape, or an ONNX Runtime failure
        raise UserError(f"{refuse}it fails ({_last_line(e)}); nothing was written") from None
    if got.shape != expected.shape:
        raise UserError(f"{refuse}shape {list(got.shape)}, expected {list(expected.shape)}; nothing was written")
    if not torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        worst = (got.double() - expected.double()).abs().max().item()
        raise UserError(f"{refuse}values differ by up to {worst:.3g}; nothing was written")


def _last_line(e: Exception) -> str:
    """The line of an error that says what went wrong: the ONNX exporter's summary, else the last line
    (TorchScript puts its traceback first)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if "## Exception summary" in lines[:-1]:
        return lines[lines.index("## Exception summary") + 1][:200]
    return (lines[-1].removeprefix("RuntimeError: ") if lines else type(e).__name__)[:200]


@contextlib.contextmanager
def _quiet():
    """Silence what torch says while exporting that is no news to a user: torch.jit's deprecation notes (torch
    >= 2.10; the TorchScript format still loads everywhere), the ONNX exporter's notes on torchvision operators
    it skips and on the batch dimension shared by several inputs."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
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
    """The ONNX ModelProto of `module` (torch's torch.export-based exporter), the dimensions the metadata names
    left free, metadata set."""
    import onnx

    dims = tuple({k: torch.export.Dim.AUTO for k, d in enumerate(i["shape"]) if isinstance(d, str)}
                 for i in meta["inputs"])
    with _quiet():
        try:
            program = torch.onnx.export(module, tuple(example.values()), dynamo=True, verbose=False,
                                        input_names=list(example), output_names=[meta["output"]["name"]],
                                        dynamic_shapes=(dims,))  # one entry: forward's *inputs
        except torch.onnx.OnnxExporterError as e:  # long; one line says what it met
            raise UserError(f"the ONNX exporter cannot export this run's generator ({_last_line(e)}); export "
                            "--format torchscript instead") from None
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {ONNX_METADATA_KEY: json.dumps(meta)})
    return proto


def _check_onnx(proto, checks: list[dict[str, torch.Tensor]], expected: list[torch.Tensor]) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    state = onnxruntime.capi.onnxruntime_pybind11_state  # onnxruntime's own exception types
    errors = (state.Fail, state.InvalidArgument, state.RuntimeException)

    def run(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        try:
            return torch.from_numpy(session.run(None, {k: v.numpy() for k, v in inputs.items()})[0])
        except errors as e:  # a shape it was not exported for
            raise RuntimeError(str(e)) from None

    for check, want in zip(checks, expected, strict=True):
        _check_same(lambda c=check: run(c), want, check, "the ONNX model")


__all__ = ["DESCRIPTION", "FORMATS", "HELP", "add_arguments", "export_generator", "main", "read_metadata", "signature"]
