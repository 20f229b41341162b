"""Generators shipped inside ganforge, loaded offline by name: `pretrained:NAME`.

    g = ganforge.load("pretrained:fashion")     # the Generator, fp32 weights on the chosen device
    ganforge sample pretrained:fashion          # every command that takes RUN_DIR takes the name too

pretrained:fashion is the default recipe, DCGAN 28x28 on the embedded Fashion-MNIST 10k (the 10,000 images of
Fashion-MNIST's test split), trained by

    ganforge train --set train.precision=fp32 --set train.seed=0

to step 12,000 (the run fp32-seed0 of bench/precision.py). Its sampling network is the EMA of G's weights,
shipped in fp16 and cast back to fp32 when loaded. fashion/ is laid out like a run folder without checkpoints:
config.yaml (the run's resolved config) and run.json (its data's description), byte for byte the run's;
weights.safetensors (the sampling network alone, fp16; the discriminator is not shipped); card.json (the command,
the step, each figure with its protocol and its source: Inception FID 21.51 of 10,000 samples against the
10,000 images, and the classifier's FD of these fp16 weights with the n and seed that reproduce it).
`python bench/pretrained.py RUN` remakes the folder from a run folder; its docstring gives the commands.

The package may be read-only, so no command writes into it: `pretrained:NAME` resolves to a run folder of its
own under the current folder, runs/pretrained-NAME, made on first use (run_folder), where the outputs go by
default. That folder holds copies of config.yaml, run.json and the card (as pretrained.json, which marks it
as the shipped generator's: it has no checkpoints, curves or samples over training).
"""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.errors import UserError
from ganforge.files import write_text_atomic

PREFIX = "pretrained:"
HERE = Path(__file__).parent
CARD = "card.json"
WEIGHTS = "weights.safetensors"
COPIED = ("config.yaml", "run.json")  # a shipped generator's run files, copied into its run folder as they are
MARK = "pretrained.json"  # the card, in a shipped generator's run folder: which generator the folder is


def names() -> list[str]:
    """The generators shipped with this ganforge, by NAME (each loads as "pretrained:NAME")."""
    return sorted(p.parent.name for p in HERE.glob(f"*/{CARD}"))


def is_name(text: object) -> bool:
    """Whether a RUN_DIR argument names a shipped generator ("pretrained:NAME") rather than a folder."""
    return str(text).startswith(PREFIX)


def folder(name: str) -> Path:
    """The package folder of generator `name` (given with or without "pretrained:"); an unknown name is a
    one-line UserError listing the shipped ones."""
    name = str(name).removeprefix(PREFIX)
    if name not in names():
        shipped = ", ".join(PREFIX + n for n in names()) or "none"
        raise UserError(f"{PREFIX}{name}: no such pretrained generator; this ganforge ships {shipped}")
    return HERE / name


def card(name: str) -> dict:
    """The card of generator `name`: how it was made and what it scores, each figure with its protocol."""
    return json.loads((folder(name) / CARD).read_text())


def name_of(path: object) -> str | None:
    """The shipped generator a RUN_DIR argument stands for: "pretrained:NAME" (checked), or a folder that
    run_folder made; None for anything else."""
    if is_name(path):
        return folder(str(path)).name
    mark = Path(str(path)) / MARK
    if path is None or str(path) == "" or not mark.is_file():  # no path given: not the current folder
        return None
    return folder(json.loads(mark.read_text())["name"]).name


def run_path(name: str) -> Path:
    """Where the outputs of generator `name` go by default: runs/pretrained-NAME under the current folder."""
    return Path("runs") / f"pretrained-{folder(name).name}"


def run_folder(name: str) -> Path:
    """run_path(name), made or brought up to date: the copies of config.yaml and run.json, and the card as
    pretrained.json. Files already as they should be are not rewritten."""
    source, out = folder(name), run_path(name)
    for file, target in zip((*COPIED, CARD), (*COPIED, MARK), strict=True):
        text = (source / file).read_text()
        if not (out / target).is_file() or (out / target).read_text() != text:
            write_text_atomic(out / target, text)  # an unwritable folder: a one-line UserError
    return out


def load_weights(family, name: str, checkpoint=None) -> int:
    """Generator `name`'s weights into `family` (built by runs.load_family from this folder's config.yaml and
    run.json): the sampling network alone, fp16 as shipped cast to its fp32 (the discriminator, not shipped,
    keeps its initial weights). Returns the step they were trained to."""
    from safetensors.torch import load_file

    from ganforge import checkpoint as ckpt

    source, step = folder(name), card(name)["step"]
    if checkpoint is not None:
        raise UserError(f"{PREFIX}{source.name} ships one set of weights (step {step:,}); drop --checkpoint")
    tensors = load_file(source / WEIGHTS)
    family.networks[family.SAMPLER].load_state_dict(ckpt.split_prefixed(tensors, f"{family.SAMPLER}."))
    family.load_sampling_tensors(ckpt.split_prefixed(tensors, ckpt.EXTRA))
    return step


def not_shipped(path: object, what: str) -> None:
    """Refuse, in one line, `what` (a tool that reads a run's training: checkpoints, curves) for a shipped
    generator, given by name or by its run folder."""
    name = name_of(path)
    if name is not None:
        which = "a generator shipped with ganforge" if is_name(path) else f"the run folder of {PREFIX}{name}"
        raise UserError(f"{path} is {which}, without its training run: {what} needs a run folder `ganforge "
                        f"train` made ({HERE / name / CARD} says how it was trained)")
