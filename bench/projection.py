"""Projection of images a run never saw: how close the reconstructions come, whether they keep their class,
and whether class vectors edit them, beside the nearest training image (what a memorising generator gives).

    GANFORGE_DATA=/path/to/data python bench/projection.py RUN [RUN ...] [--n 1000] [--out runs/projection]
                                                           [--steps N] [--threads N]

Each RUN is a Fashion-MNIST run; the images are the first --n of the split it did not train on (the 60k train
split for a run on the embedded 10k test split, the default's). Per run: PSNR and SSIM of the reconstructions against the originals, the shipped
classifier's accuracy on them against the originals' labels (beside its accuracy on the originals), the
classifier's FD of reconstructions against originals, and seconds per image; the same for the nearest
training image in pixels and, for a run with an encoder (AAE, VAE-GAN), for the encoder's code alone. Then
attribute edits: each projected code moved by one class vector (`explore attribute`'s: from the class the
classifier reads on its reconstruction to the class after its label, the difference of the two classes' mean
codes); the share the classifier reads as the target, beside a random direction of the same norm. Results are kept in
<out>/results.json keyed by run, checkpoint step, n and steps, so a finished row is never measured again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import ganforge
from ganforge.data import load_dataset
from ganforge.directions import apply_attribute, attribute_vectors
from ganforge.explorer import Explorer
from ganforge.files import write_text_atomic
from ganforge.generator import Encodes
from ganforge.metrics.classifier import load_classifier
from ganforge.metrics.frechet import feature_stats, frechet_distance
from ganforge.metrics.latent import random_direction_like
from ganforge.metrics.translation import psnr, ssim
from ganforge.projection import STEPS, project

# how the class vectors are made (a row of another making is measured again); with an encoder the class
# means are those of the typical encoded training images
EDITS = {False: "own-class-to-target", True: "own-class-to-target:typical-encoded"}


def unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 or [-1, 1] images as floats in [0, 1]."""
    return images.float() / 255 if images.dtype == torch.uint8 else (images.float() + 1) / 2


def scores(judge, originals: torch.Tensor, labels: torch.Tensor, made: torch.Tensor) -> dict:
    """PSNR, SSIM, the class kept and the classifier's FD of `made` against `originals` (both in [0, 1])."""
    with torch.no_grad():
        logits_made, feats_made = judge(made * 2 - 1), judge.features(made * 2 - 1)
        feats_orig = judge.features(originals * 2 - 1)
    fd = frechet_distance(*feature_stats(feats_made), *feature_stats(feats_orig))
    return {"psnr_db": psnr(made, originals).mean().item(), "ssim": ssim(made, originals).mean().item(),
            "class_kept": (logits_made.argmax(1) == labels).float().mean().item(), "fd_classifier": fd}


def nearest(train: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The training image nearest in pixels to each image (floats in [0, 1])."""
    t, x = train.flatten(1), images.flatten(1)
    picks = torch.cat([((c.pow(2).sum(1, keepdim=True) - 2 * c @ t.T) + t.pow(2).sum(1)).argmin(1)
                       for c in x.split(500)])
    return train[picks]


def edits(run: str, codes: torch.Tensor, labels: torch.Tensor, judge, class_names: list[str]) -> dict:
    """Share of projected codes moved by the class vector to the next class that the classifier reads as it."""
    ex = Explorer.load(run)
    target = (labels + 1) % len(class_names)
    z = {"z": codes.to(ex.device)}
    kept = {}  # the classes' mean codes, found once for all ten targets
    vectors = torch.cat([attribute_vectors(ex, str(int(t)), {"z": z["z"][target == t]}, kept=kept)
                         for t in range(len(class_names))])
    order = torch.cat([torch.nonzero(target == t).flatten() for t in range(len(class_names))])
    vectors = vectors[order.argsort()].cpu()  # back to the codes' order
    random = random_direction_like(vectors, torch.Generator().manual_seed(0), rows=True)
    read = {}
    for name, direction in (("class_vector", vectors), ("random_direction", random)):
        with torch.no_grad():
            pictures = ex.decode({"z": apply_attribute(codes, direction, [1.0]).to(ex.device)})
            read[name] = (judge(pictures.cpu()).argmax(1) == target).float().mean().item()
    return read


def measure(run: str, images: torch.Tensor, labels: torch.Tensor, train: torch.Tensor, steps: int) -> dict:
    judge, _ = load_classifier("fashion-mnist")
    judge.eval()
    g = ganforge.load(run)
    originals = unit(images)
    started = time.perf_counter()
    result = project(g, images, steps=steps)
    seconds = time.perf_counter() - started
    row = {"projection": {**scores(judge, originals, labels, unit(result.images)),
                          "seconds_per_image": seconds / len(images), "precision": result.precision,
                          "weights": result.weights, "space": result.space},
           "nearest_training_image": scores(judge, originals, labels, nearest(unit(train), originals)),
           "originals_class_accuracy": (judge(originals * 2 - 1).argmax(1) == labels).float().mean().item()}
    if isinstance(g, Encodes):
        encoded = g({"z": g.encode(images.float() / 127.5 - 1)})
        row["encoder_alone"] = scores(judge, originals, labels, unit(encoded.cpu()))
    if result.space == "z" and set(result.codes) == {"z"}:
        row["edits"] = edits(run, result.codes["z"], labels, judge, list(g.data.get("class_names") or []))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("runs", nargs="+", help="Fashion-MNIST run folders")
    parser.add_argument("--n", type=int, default=1000, help="held-out images projected (default 1000)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"optimisation steps (default {STEPS})")
    parser.add_argument("--out", default="runs/projection", help="where results.json is kept")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) / "results.json"
    results = json.loads(out.read_text()) if out.is_file() else {}
    for run in args.runs:
        g = ganforge.load(run)
        edits = EDITS[isinstance(g, Encodes)]
        key = f"{Path(run).resolve()}@{g.step}:n={args.n}:steps={args.steps}:edits={edits}"
        if key not in results:
            trained_on = g.data["name"]  # the test split (fashion-mnist-10k) or the train split (fashion-mnist)
            split = "test" if trained_on == "fashion-mnist" else "train"
            held_out = load_dataset("fashion-mnist", split=split)
            images, labels = held_out.x[:args.n], held_out.y[:args.n]
            results[key] = {"run": run, "step": g.step, "n": args.n, "steps": args.steps, "held_out": f"fashion-mnist {split}",
                            "threads": torch.get_num_threads(),
                            **measure(run, images, labels, load_dataset(trained_on).x, args.steps)}
            write_text_atomic(out, json.dumps(results, indent=1))
        r = results[key]
        print(f"{run} (step {r['step']:,}, {r['n']:,} held-out images of the {r['held_out']} split, {r['threads']} threads; the classifier reads "
              f"{r['originals_class_accuracy']:.1%} of the originals right)")
        print("| | PSNR (dB) | SSIM | class kept | fd_classifier vs originals | s per image |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in ("projection", "nearest_training_image", "encoder_alone"):
            if name in r:
                s = r[name]
                per = f"{s['seconds_per_image'] * 1000:.0f} ms" if "seconds_per_image" in s else ""
                print(f"| {name.replace('_', ' ')} | {s['psnr_db']:.2f} | {s['ssim']:.3f} | {s['class_kept']:.1%} | "
                      f"{s['fd_classifier']:.2f} | {per} |")
        if "edits" in r:
            e = r["edits"]
            print(f"edits to the next class at strength 1: the classifier reads the target on {e['class_vector']:.1%} "
                  f"with the class vector, {e['random_direction']:.1%} with a random direction of the same norm")
    print(f"results kept in {out}")


if __name__ == "__main__":
    main()
