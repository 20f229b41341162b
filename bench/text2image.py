"""Text-to-image on fashion-captions: GAN-INT-CLS (the preset) beside its ablations (Reed et al. 2016's GAN-CLS
without the interpolation term, and a plain caption-conditioned GAN without the matching-aware D either), and
the preset trained on an image folder with its own captions.csv instead of the built-in dataset.

Each row is a run under --out trained from the text2image-fashion preset with the row's settings, then measured
by `ganforge eval` on the captions of --n test images (class accuracy under the domain classifier, attribute
accuracy under the measuring rules, on seen and held-out templates; caption matching top-1 of 10). A finished
run is measured, not trained again; one stopped part-way continues from its last checkpoint. Beside them,
within-caption spread: over the 80 captions naming a class and all three attributes, the mean pairwise L1
distance per pixel (in [0, 1]) among 64 samples of the caption, and among the real test images that fit it (up
to 64 each). Each row's scores go to <out>/text2image.json and a table is printed.

The row own-captions writes the training split as PNG files with a captions.csv (every attribute named, a
training template drawn per image: data/captions.write_captions) under <out>/folder once, and trains on that
folder: the family then knows nothing of classes, attributes or templates, only the captions' words. `ganforge
eval` gives it caption matching alone; this script also measures its samples for the test images' captions by
the domain classifier and the measuring rules (seen templates), as the other rows are measured.

    python bench/text2image.py [--rows int-cls,cls,plain,own-captions] [--steps N] [--n 10000] [--out runs/text2image]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import runkeys
import torch

import ganforge
from ganforge import viz
from ganforge.data import captions as cap
from ganforge.data.registry import load_dataset

PRESET = "text2image-fashion"
ROWS = {
    "int-cls": {},  # the preset: matching-aware D (CLS) and the interpolation term (INT)
    "cls": {"family.interpolate": 0.0},
    "plain": {"family.interpolate": 0.0, "family.wrong": 0.0},  # D never sees a wrong caption
    "own-captions": {},  # the preset on an image folder with captions.csv (data.name set to the folder)
}
SHOWN = ("class_accuracy_seen", "class_accuracy_heldout", "attribute_accuracy_seen", "attribute_accuracy_heldout",
         "matching_top1", "sample_matching_top1_seen", "spread", "spread_real")
HEADS = ("class seen", "class held-out", "attr seen", "attr held-out", "matching top-1", "sample matching",
         "spread", "real spread")


def mean_pair_l1(x: torch.Tensor) -> float:
    """Mean L1 distance per pixel (in [0, 1]) between distinct pairs of uint8 images."""
    x = x.float().flatten(1) / 255
    return float((torch.cdist(x, x, p=1) / x.shape[1]).sum() / (len(x) * (len(x) - 1)))


def within_caption_spread(run: Path, per: int = 64) -> dict[str, float]:
    """Mean pairwise L1 among `per` samples of each full caption (class and three attributes, template 0), and
    among the real test images that fit it (captions with fewer than 16 such images are left out)."""
    family = ganforge.load(run).family
    test = load_dataset("fashion-captions", root=family.cfg.data.root, split="test")
    code = test.y * 8 + (cap.attributes(test.x, test.y, family.thresholds) * torch.tensor([4, 2, 1])).sum(1)
    fake, real = [], []
    for c in range(8 * len(cap.CLASS_NOUNS)):
        rows = (code == c).nonzero().flatten()[:per]
        if len(rows) < 16:
            continue
        text = cap.caption(c // 8, ((c >> 2 & 1) + 1, (c >> 1 & 1) + 1, (c & 1) + 1), 0)
        fake.append(mean_pair_l1(viz.to_uint8(family.generate_for([text], n=per, seed=c))))
        real.append(mean_pair_l1(test.x[rows]))
    return {"spread": sum(fake) / len(fake), "spread_real": sum(real) / len(real), "spread_captions": len(fake)}


def caption_folder(out: Path) -> Path:
    """The fashion-captions training split as PNG files with captions.csv, under `out` (written once)."""
    from PIL import Image

    if (out / "captions.csv").is_file():
        return out
    train = load_dataset("fashion-captions", split="train")
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(train.x[:, 0].numpy()):
        Image.fromarray(image).save(out / f"{i:06d}.png")
    cap.write_captions(train.x, train.y, cap.class_thresholds(train.x, train.y), out / "captions.csv")
    return out


def own_caption_accuracy(run: Path, n: int, batch: int = 500) -> dict[str, float]:
    """Class and attribute accuracy of one sample per test image, drawn for a caption naming its class and
    measured attributes (a training template drawn per image), for a run that learnt them from a captions.csv."""
    from ganforge.metrics.classifier import load_classifier
    from ganforge.metrics.text import attribute_agreement

    family = ganforge.load(run).family
    train = load_dataset("fashion-captions", split="train")
    thresholds = cap.class_thresholds(train.x, train.y)
    test = load_dataset("fashion-captions", split="test")
    x, y = test.x[:n], test.y[:n]
    attrs = cap.attributes(x, y, thresholds)
    templates = torch.randint(cap.SEEN, (n,), generator=torch.Generator().manual_seed(0))
    texts = [cap.caption(k, tuple(a + 1 for a in s), t) for k, s, t in zip(y.tolist(), attrs.tolist(),
                                                                           templates.tolist(), strict=True)]
    classifier = load_classifier("fashion-mnist")[0].eval()
    predicted, measured = [], []
    for i in range(0, n, batch):
        fake = family.generate_for(texts[i:i + batch], n=1, seed=i)
        with torch.no_grad():
            predicted.append(classifier(fake).argmax(1))
        measured.append(cap.attributes(cap.to_uint8(fake), y[i:i + batch], thresholds))
    got = attribute_agreement(torch.cat(measured), attrs)
    return {"class_accuracy_seen": float((torch.cat(predicted) == y).float().mean()),
            "attribute_accuracy_seen": got["attribute_accuracy"]}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="int-cls", help=f"comma-separated rows (default int-cls; all: {','.join(ROWS)})")
    p.add_argument("--steps", type=int, help="training steps of each row (default: the preset's)")
    p.add_argument("--n", type=int, default=10_000, help="test images whose captions are sampled and measured")
    p.add_argument("--out", default="runs/text2image")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every row")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    wanted = args.rows.split(",")
    unknown = set(wanted) - set(ROWS)
    if unknown:
        p.error(f"unknown rows {', '.join(sorted(unknown))}; rows: {', '.join(ROWS)}")
    table_path = Path(args.out) / "text2image.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    # runs and table entries with --steps or --set are named by them (runkeys): other runs never stand in
    key = runkeys.run_key({"steps": runkeys.non_default(args.steps, runkeys.preset_steps(PRESET))}, args.set)
    target = args.steps or runkeys.preset_steps(PRESET, args.set)
    for name in wanted:
        run = Path(args.out) / runkeys.keyed(name, key)
        settings = dict(ROWS[name])
        if name == "own-captions":
            settings["data.name"] = str(caption_folder(Path(args.out) / "folder").resolve())
        if not runkeys.finished(run, target):
            runkeys.train_or_continue(PRESET, run, steps=args.steps, settings=settings, overrides=args.set, quiet=False)
        started = time.perf_counter()
        result = ganforge.evaluate(run, n=args.n)
        summary = json.loads((run / "summary.json").read_text())
        if name == "own-captions":  # matching alone from eval; the class and attributes measured here
            measured = {**own_caption_accuracy(run, args.n),
                        "sample_matching_top1_seen": result["values"]["sample_matching_top1"]}
        else:
            measured = within_caption_spread(run)
        table[runkeys.keyed(name, key)] = {**result["values"], **measured, "steps": summary["steps"],
                                           "train_seconds": summary["seconds"],
                                           "eval_seconds": round(time.perf_counter() - started, 1), "n": args.n}
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(json.dumps(table, indent=1))
    print(f"\ntext2image on fashion-captions; captions of {args.n:,} test images per row, one sample each")
    print(f"{'row':12s} {'steps':>6s} {'minutes':>7s} " + " ".join(f"{h:>15s}" for h in HEADS))
    for name in (runkeys.keyed(row, key) for row in ROWS):
        if name in table:
            r = table[name]
            print(f"{name:12s} {r['steps']:6d} {r['train_seconds'] / 60:7.1f} "
                  + " ".join(f"{r.get(k, float('nan')):15.4f}" for k in SHOWN))


if __name__ == "__main__":
    main()
