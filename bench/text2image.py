"""Text-to-image on fashion-captions: GAN-INT-CLS (the preset) beside its ablations (Reed et al. 2016's GAN-CLS
without the interpolation term, and a plain caption-conditioned GAN without the matching-aware D either).

Each row is a run under --out trained from the text2image-fashion preset with the row's settings, then measured
by `ganforge eval` on the captions of --n test images (class accuracy under the domain classifier, attribute
accuracy under the measuring rules, on seen and held-out templates; caption matching top-1 of 10). A finished
run is measured, not trained again; one stopped part-way continues from its last checkpoint. Each row's scores
go to <out>/text2image.json and a table is printed.

    python bench/text2image.py [--rows int-cls,cls,plain] [--steps N] [--n 10000] [--out runs/text2image]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ganforge

PRESET = "text2image-fashion"
ROWS = {
    "int-cls": {},  # the preset: matching-aware D (CLS) and the interpolation term (INT)
    "cls": {"family.interpolate": 0.0},
    "plain": {"family.interpolate": 0.0, "family.wrong": 0.0},  # D never sees a wrong caption
}
SHOWN = ("class_accuracy_seen", "class_accuracy_heldout", "attribute_accuracy_seen", "attribute_accuracy_heldout",
         "matching_top1")
HEADS = ("class seen", "class held-out", "attr seen", "attr held-out", "matching top-1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="int-cls", help=f"comma-separated rows (default int-cls; all: {','.join(ROWS)})")
    p.add_argument("--steps", type=int, help="training steps of each row (default: the preset's)")
    p.add_argument("--n", type=int, default=10_000, help="test images whose captions are sampled and measured")
    p.add_argument("--out", default="runs/text2image")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every row")
    args = p.parse_args()
    wanted = args.rows.split(",")
    unknown = set(wanted) - set(ROWS)
    if unknown:
        p.error(f"unknown rows {', '.join(sorted(unknown))}; rows: {', '.join(ROWS)}")
    table_path = Path(args.out) / "text2image.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    for name in wanted:
        run = Path(args.out) / name
        if not (run / "summary.json").is_file():
            ganforge.train(PRESET, steps=args.steps, out=run, settings=ROWS[name], overrides=args.set, quiet=False,
                           resume=(run / "checkpoints").is_dir())
        started = time.perf_counter()
        result = ganforge.evaluate(run, n=args.n)
        summary = json.loads((run / "summary.json").read_text())
        table[name] = {**result["values"], "steps": summary["steps"], "train_seconds": summary["seconds"],
                       "eval_seconds": round(time.perf_counter() - started, 1), "n": args.n}
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(json.dumps(table, indent=1))
    print(f"\ntext2image on fashion-captions; captions of {args.n:,} test images per row, one sample each")
    print(f"{'row':8s} {'steps':>6s} {'minutes':>7s} " + " ".join(f"{h:>15s}" for h in HEADS))
    for name in ROWS:
        if name in table:
            r = table[name]
            print(f"{name:8s} {r['steps']:6d} {r['train_seconds'] / 60:7.1f} "
                  + " ".join(f"{r.get(k, float('nan')):15.4f}" for k in SHOWN))


if __name__ == "__main__":
    main()
