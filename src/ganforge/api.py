"""The Python API: what the command line does, as functions that return objects.

    import ganforge
    run = ganforge.train("default", steps=200, out="runs/x")   # or resume=True to continue runs/x
    g = ganforge.load("runs/x")                                 # the trained generator (EMA weights if kept)
    images = g.sample(16, seed=0)                               # 16 x 1 x 28 x 28, in [-1, 1]
    scores = ganforge.evaluate("runs/x", metrics="fid,pr", n=2000)

Each function is the one its command calls (`ganforge train`, `sample`, `eval`, `report`, `export`), so the
same checks, files and messages apply. Heavy modules are imported inside the functions: `import ganforge`
stays fast.

`load` gives the run's Generator (ganforge.generator.Generator), the object every run tool works through:

    g.sample(n, seed=0, truncation=None, **options)    # n samples on the CPU, images in [-1, 1] (or points)
    inputs = g.noise(n, torch.Generator().manual_seed(0))  # the network's inputs by name (z, a condition...)
    inputs, columns = g.inputs(n, generator, truncation=0.7, **options)  # as `ganforge sample` draws them
    x = g(inputs)                                       # samples for those inputs (eval mode, batched, no grad)
    g.spec, g.step, g.data, g.options, g.conditional, g.latent   # what it was trained on and takes

and its abilities, which a caller asks with isinstance (from ganforge.generator import ...):
SamplesCodes (g.codes(seeds)), Encodes (g.encode(images)), Reconstructs (g.reconstruct(images)), Projects
(codes found by optimisation: ganforge.projection.project(g, images)), Translates
(g.translate(images, direction)), MixesStyles (g.styles, g.synthesize, g.style_ranges), TakesText
(g.embed(captions), g.generate_for(captions, n)), PredictsFrames (g.predict(frames, n)), ScoresPoints
(g.d_prob(x)); `ganforge.generator.abilities(g)` lists them by name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.errors import UserError

if TYPE_CHECKING:
    from ganforge.generator import Generator


@dataclass
class Run:
    """A run folder and what its training reported (summary.json)."""

    path: Path
    summary: dict = field(default_factory=dict)

    def load(self, checkpoint: str | None = None, device: str = "auto") -> Generator:
        """The run's trained generator (see `ganforge.load`)."""
        return load(self.path, checkpoint, device)


def _overrides(settings: dict[str, Any] | None, **keys: Any) -> list[str]:
    """`--set key=value` items, JSON-quoted so a path such as "2024" or "yes" stays a string."""
    items = {k: v for k, v in keys.items() if v is not None}
    items.update(settings or {})
    return [f"{k}={json.dumps(v)}" for k, v in items.items()]


def train(config: str | None = None, *, steps: int | None = None, data: str | None = None,
          out: str | os.PathLike | None = None, resume: bool = False, seed: int | None = None,
          device: str | None = None, settings: dict[str, Any] | None = None, overrides: list[str] | tuple = (),
          quiet: bool = True, init: str | os.PathLike | None = None) -> Run:
    """Train a run, as `ganforge train` does, and return it.

    config: a preset name (`ganforge presets`) or a YAML file; default "default". steps: train to this step
    (train.steps). data: a dataset name or a folder. out: the run folder (default runs/<preset>-<time>).
    resume: continue the run in `out` from its latest checkpoint, to `steps` (the new total) or its own
    train.steps. settings: any config keys, e.g. {"train.batch_size": 128, "family.objective": "hinge"};
    overrides: the same as `--set` items, "KEY=VALUE" with YAML values. quiet: no header or progress bar.
    init: fine-tune: a trained run (or one of its checkpoint folders) of the same family and networks whose
    weights start every network, optimisers fresh (train.init).
    """
    from ganforge import pretrained, runs
    from ganforge.config import load_config
    from ganforge.training.loop import train as train_loop

    overrides = [*overrides, *_overrides(settings, **{"data.name": data, "train.steps": steps, "train.seed": seed,
                                                      "train.device": device,
                                                      "train.init": None if init is None else str(init)})]
    if resume:
        if out is None:
            raise UserError("resume=True continues the run in `out`; give out=RUN_DIR")
        if config is not None or init is not None:
            raise UserError("resume=True continues a run with its own config and start; drop `config` and `init`")
        pretrained.not_shipped(out, "resuming training")  # before its run folder is made
        run_dir = runs.require_run(out)
        cfg = runs.continue_config(run_dir, overrides)
    else:
        cfg = load_config(config, overrides)
        name = Path(config).stem if config else "default"
        if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:  # each rank's clock names its own folder
            raise UserError("under torchrun, give the run folder with --out (every process must use the same one)")
        run_dir = Path(out) if out is not None else runs.default_run_dir(name)
    summary = train_loop(cfg, Path(run_dir), resume=resume, quiet=quiet)
    return Run(Path(run_dir), summary)


def load(run_dir: str | os.PathLike, checkpoint: str | None = None, device: str = "auto") -> Generator:
    """The trained Generator of a run folder: the latest checkpoint, or `checkpoint` ("best" or a
    checkpoints/step_* folder), with its averaged (EMA) weights when the run kept them. "pretrained:NAME" loads a
    generator shipped with ganforge (`ganforge.pretrained.names()` lists them; `ganforge.pretrained.card(NAME)`
    says how it was trained and what it scores), offline; every command that takes a run folder takes it too.

    It offers `sample(n, seed)`, `noise` and `inputs` (what its network takes, drawn as `ganforge sample` draws
    them), `g(inputs)` (samples for given inputs), the run's `spec`, `step` and `data`, and the abilities of its
    family as protocols to test with isinstance (Encodes, Translates, MixesStyles, TakesText, PredictsFrames,
    ...; see the module docstring and ganforge.generator)."""
    from ganforge import runs

    return runs.load_generator(Path(run_dir), checkpoint, device)


def sample(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, n: int | None = None,
           seed: int = 0, checkpoint: str | None = None, force: bool = False, truncation: float | None = None,
           numbered: bool = False, **options: Any) -> Path:
    """`ganforge sample`: samples of a run into a PNG grid, an .npz, or a folder ending in "/" (one PNG per
    sample); default RUN/sample_step<STEP>_seed<SEED>.png. Returns the path written."""
    from ganforge.sampling import sample_to_file

    return sample_to_file(Path(run_dir), out, n=n, seed=seed, checkpoint=checkpoint,
                          options={k: str(v) for k, v in options.items()}, force=force, truncation=truncation,
                          numbered=numbered)


def translate(run_dir: str | os.PathLike, input: str | os.PathLike, out: str | os.PathLike | None = None,
              direction: str = "AB", checkpoint: str | None = None, force: bool = False) -> list[Path]:
    """`ganforge translate`: an image file or a folder of images through an image-to-image run (any size;
    file names kept); default output RUN/translated/. Returns the files written."""
    from ganforge.translating import translate_files

    return translate_files(Path(run_dir), input, out, direction, checkpoint, force=force)


def predict(run_dir: str | os.PathLike, input: str | os.PathLike, frames: int = 10,
            out: str | os.PathLike | None = None, checkpoint: str | None = None, force: bool = False) -> Path:
    """`ganforge predict`: the next `frames` frames of a clip (a GIF or a folder of frame images) from a video
    run, written as a GIF of the input then the prediction; default RUN/predicted/<input name>.gif."""
    from ganforge.predicting import predict_clip

    return predict_clip(Path(run_dir), input, frames, out, checkpoint, force)


def project(run_dir: str | os.PathLike, input: str | os.PathLike, out: str | os.PathLike | None = None, *,
            steps: int | None = None, space: str | None = None, class_name: str | None = None,
            distance: str | dict | None = None, gif: bool = False, seed: int = 0, precision: str = "auto",
            checkpoint: str | None = None, device: str = "auto", force: bool = False) -> list[Path]:
    """`ganforge project`: the code whose sample reproduces each image (a file, or a folder's, names kept), by
    optimisation: NAME.npz (the code, for `explore(..., codes=[...])` and `g(codes)`), NAME.png (the image beside
    its reconstruction), with `gif` NAME.gif; default RUN/projected/. space: "z", or a StyleGAN run's "w" or "w+";
    class_name: a conditional run's class (default: found); distance: weights such as {"pixels": 1, "critic":
    0.1, "classifier": 0.1}; precision: "auto" (bf16 where the device has it natively), "fp32" or "bf16". Returns
    the files written. ganforge.projection.project does the same for tensors."""
    from ganforge.projecting import project_files
    from ganforge.projection import STEPS

    return project_files(Path(run_dir), input, out, STEPS if steps is None else steps, space, class_name, distance,
                         seed=seed, gif=gif, checkpoint=checkpoint, device=device, force=force, progress=False,
                         precision=precision)


def explore(action: str, run_dir: str | os.PathLike, **options: Any) -> list[Path]:
    """`ganforge explore ACTION RUN`: action "interpolate" (seeds=[0, 1, ...], images=[...] or codes=[FILE.npz,
    ...], spherical, steps), "arithmetic" (a, b, c, seed, n, k, codes), "attribute" (attr, images, codes or seeds,
    strengths), "truncation"
    (psis, n, seed) or "mix" (rows, columns: seeds; generators that mix styles); each also takes out, force,
    checkpoint and device (see ganforge.exploring). Returns the files written."""
    from ganforge import exploring

    actions = {"interpolate": exploring.interpolate, "arithmetic": exploring.arithmetic,
               "attribute": exploring.attribute, "truncation": exploring.truncation_sweep, "mix": exploring.style_mix}
    if action not in actions:
        raise UserError(f"unknown explore action '{action}'; actions: {', '.join(actions)}")
    result = actions[action](run_dir, **options)
    return [Path(p) for p in result["written"]] if isinstance(result, dict) else result


def evaluate(run_dir: str | os.PathLike, metrics: str | None = None, n: int | None = None, *,
             ref: str = "test", extractor: str = "auto", inception: str | None = None, seed: int = 0,
             checkpoint: str | None = None, device: str = "auto", progress: bool = False) -> dict:
    """`ganforge eval`: score a run's samples against real images (see docs/evaluation.md). Returns
    {"values": {name: value}, "protocol": {...}, "notes": [...], ...} and merges the values into RUN/eval.json.
    metrics None: fid,kid,pr,dc, or swd,nn where no feature extractor can be had (a note says so). In a domain
    classifier's features the Frechet distance is named fd_classifier; FID is the Inception's."""
    from ganforge.evaluating import evaluate_run

    return evaluate_run(Path(run_dir), metrics, n, ref, extractor, inception, seed, device, checkpoint, progress)


def report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """`ganforge report`: one self-contained HTML page of the run (default RUN/report.html)."""
    from ganforge.reporting import write_report

    return write_report(run_dir, out, force)


def export(run_dir: str | os.PathLike, format: str = "torchscript", out: str | os.PathLike | None = None,
           checkpoint: str | None = None, force: bool = False, direction: str | None = None,
           frames: int | None = None) -> Path:
    """`ganforge export`: the generator alone as TorchScript (or ONNX), loadable without ganforge. direction:
    "BA" for a CycleGAN run's B->A generator; frames: the frames a video run's export predicts."""
    from ganforge.exporting import export_generator

    return export_generator(run_dir, format, out, checkpoint, force, direction, frames)


def studio(runs: list[str | os.PathLike] | tuple = (), host: str = "127.0.0.1", port: int = 8765,
           open_browser: bool = False, device: str = "auto") -> None:
    """`ganforge studio`: a live page for runs (folders or "pretrained:NAME"; none: pretrained:fashion) served on
    host:port until Ctrl-C (port 0: any free one); `open_browser` opens it. Needs `pip install "ganforge[studio]"`.
    ganforge.studio_app.running(runs) serves it from a thread for a `with` block instead."""
    from ganforge.studio_app import serve

    serve(runs, host=host, port=port, open_browser=open_browser, device=device)
