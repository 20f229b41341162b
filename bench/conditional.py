"""Class-conditional generation, measured: for each trained run, 10,000 samples (1,000 per class, the same
noise for every class), labelled by ganforge's domain classifier; the fraction labelled as the class asked
for, per class and overall, the class coverage, and the intra-FID in classifier features (1,000 samples of
each class against the 1,000 first test images of that class). Writes the per-class grid of each run.

    ganforge train --config cgan-mnist --out runs/cgan-mnist          # and acgan-fashion, projection-fashion
    python bench/conditional.py runs/cgan-mnist runs/acgan-fashion runs/projection-fashion \
        [--pictures docs/images] [--json OUT]

Targets: at least 98% on MNIST and 95% on Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ganforge import viz
from ganforge.metrics.classifier import ClassifierExtractor
from ganforge.metrics.conditional import class_agreement, intra_fid
from ganforge.metrics.features import classifier_for
from ganforge.nets.conditional import condition_vector
from ganforge.runs import load_data, load_family, read_config, with_split

PER_CLASS = 1000


def measure(run_dir: Path, pictures: Path | None, device: str) -> dict:
    family, data, step = load_family(run_dir, "best" if (run_dir / "checkpoints" / "best").is_dir() else None,
                                        device)
    if not family.conditional or family.attributes:
        raise SystemExit(f"{run_dir}: not a class-conditional run")
    cfg = read_config(run_dir)
    judge_name = classifier_for(data["name"])
    if judge_name is None:
        raise SystemExit(f"{run_dir}: no domain classifier for {data['name']}")
    judge = ClassifierExtractor(judge_name, device=device)
    k = family.n_cond
    dev = next(family.parameters()).device
    started = time.perf_counter()
    z = torch.randn(PER_CLASS, cfg.family["z_dim"], generator=torch.Generator().manual_seed(0)).to(dev)
    z = z.repeat(k, 1)
    labels = torch.arange(k).repeat_interleave(PER_CLASS)
    fake = viz.to_uint8(family.generator()({"z": z, "c": condition_vector(labels, k).to(dev)}).cpu())
    predicted = judge.logits(fake).argmax(1)
    out = {"run": str(run_dir), "dataset": data["name"], "condition": cfg.family["condition"],
           "objective": cfg.family["objective"], "step": step, "n": len(fake)}
    out.update(class_agreement(predicted, labels, k))
    test = load_data(with_split(cfg, "test"))
    real_x, real_y = [], []
    for c in range(k):  # the first 1,000 test images of each class
        idx = (test.y == c).nonzero().flatten()[:PER_CLASS]
        real_x.append(test.x[idx])
        real_y.append(test.y[idx])
    real_x, real_y = torch.cat(real_x), torch.cat(real_y)
    out.update(intra_fid(judge.features(real_x), real_y, judge.features(fake), labels, k))
    out["seconds"] = round(time.perf_counter() - started, 1)
    if pictures is not None:
        grid, columns = family.grid({"z": z[:10].to(dev)}, n=10 * k)
        path = pictures / f"{run_dir.name}-classes.png"
        viz.save_grid(family.generator()(grid), path, nrow=columns, upscale=2)
        out["picture"] = str(path)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # the first paragraph
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of class-conditional runs")
    parser.add_argument("--pictures", type=Path, help="write RUN-classes.png (one row per class) here")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    rows = [measure(run, args.pictures, args.device) for run in args.runs]
    print(f"{PER_CLASS} samples per class, the same noise for every class; labelled by the "
          "domain classifier; intra-FID in its 128-d features vs 1,000 test images per class\n")
    print("| run | data | condition | objective | step | accuracy | worst class | coverage | intra-FID |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_class = {c: v for c, v in r.items() if c.startswith("class_accuracy_")}
        worst = min(per_class, key=per_class.get)
        print(f"| {Path(r['run']).name} | {r['dataset']} | {r['condition']} | {r['objective']} | {r['step']} "
              f"| {100 * r['class_accuracy']:.2f}% | {worst.rsplit('_', 1)[1]}: {100 * per_class[worst]:.1f}% "
              f"| {r['class_coverage']:.2f} | {r['intra_fid']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
