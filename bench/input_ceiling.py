"""How much class a translation's input carries: ganforge's Fashion-MNIST classifier recipe (the shipped
classifier's: 15 epochs, shifts of 1 pixel, seed 0) trained on the train split's inputs of a task and tested on
the test split's, beside the same recipe on the images themselves.

A translator sees only its input, so its outputs can carry about as much of the class as the input does and
no more. The same recipe trained on the inputs measures that: beside its 92.24% on the images (the shipped
classifier, which `ganforge eval` reads a translation's outputs with), it says how much of the gap between a
translator's class accuracy and the images' the input leaves room to close. Cached per task in --out/TASK.json.

    python bench/input_ceiling.py [--tasks fashion-edges] [--out runs/input-ceiling]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.data import load_dataset
from ganforge.data.translation import centre_crop
from ganforge.files import write_text_atomic
from ganforge.metrics.classifier import DEFAULT_EPOCHS, DEFAULT_SHIFT, Recipe, accuracy, train_classifier


def as_classifier_input(x: torch.Tensor) -> torch.Tensor:
    """A task's inputs as 28 x 28 uint8 images: edges cropped back from the 32 x 32 canvas, low resolution
    images enlarged by repeating pixels (nothing added that the input lacks)."""
    if x.shape[-1] == 32:
        return centre_crop(x, 28, 28).contiguous()
    factor = 28 // x.shape[-1]
    return F.interpolate(x.float(), scale_factor=factor, mode="nearest").round().to(torch.uint8)


def measure(task: str, epochs: int, progress: bool = True) -> dict:
    recipe = Recipe("fashion-mnist", epochs, max_shift=DEFAULT_SHIFT["fashion-mnist"], seed=0)
    train, test = (load_dataset(task, split=s) for s in ("train", "test"))
    started = time.perf_counter()
    model = train_classifier(as_classifier_input(train.inputs), train.y, recipe, progress)
    return {"task": task, "input_accuracy": accuracy(model, as_classifier_input(test.inputs), test.y),
            "recipe": vars(recipe), "n_train": len(train.y), "n_test": len(test.y),
            "train_seconds": round(time.perf_counter() - started, 1), "torch": torch.__version__}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="fashion-edges", help="comma-separated translation tasks (fashion-sr4, fashion-sr2 too)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS["fashion-mnist"])
    p.add_argument("--out", default="runs/input-ceiling")
    return p


def main() -> None:
    args = build_parser().parse_args()
    rows = []
    for task in args.tasks.split(","):
        path = Path(args.out) / f"{task}.json"
        cached = json.loads(path.read_text()) if path.is_file() else None
        if cached is None or cached["recipe"]["epochs"] != args.epochs:
            cached = measure(task, args.epochs)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(cached, indent=1))
        rows.append(cached)
    print(f"\nthe classifier recipe ({args.epochs} epochs) on each task's inputs, 60k train -> 10k test")
    print(f"{'task':16s} {'input accuracy':>15s} {'train s':>8s}")
    for r in rows:
        print(f"{r['task']:16s} {r['input_accuracy']:15.2%} {r['train_seconds']:8.0f}")


if __name__ == "__main__":
    main()
