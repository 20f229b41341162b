"""The adversarial autoencoder on MNIST, measured with the paper's protocols (Makhzani et al. 2015):

- Parzen-window log-likelihood of the 10,000 MNIST test images under 10,000 samples (the decoder's pixel
  means in [0, 1] for 10,000 prior draws), the window's sigma chosen on the 10,000 training images the run
  held out (data.holdout); beside the paper's Table 1: AAE 340 +- 2, GAN 225 +- 2, GMMN+AE 282 +- 2 nats.
- The same score with 10,000 real training images (not held out) as the samples: what the data itself gets
  under this protocol (Theis et al. 2016, Table 1: 243 nats for the true distribution, 313 for k-means
  centroids: the window rewards averaged images, so a model can pass the data).
- For a supervised mixture prior, the share of the 10,000 test images whose code's most responsible
  component is their class's.

    ganforge train --config aae-mnist --set data.root=PATH --out runs/aae-mnist       # and aae-mnist-2d
    python bench/aae.py runs/aae-mnist runs/aae-mnist-2d [--n 10000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ganforge.metrics.parzen import parzen_score
from ganforge.runs import heldout_data, load_data, load_family, read_config, with_split

PAPER = "AAE 340 +- 2, GAN 225 +- 2, GMMN+AE 282 +- 2 (Makhzani et al. 2015, Table 1)"


def pixels(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1], one row each: uint8 data / 255, or generated values in [-1, 1] mapped there."""
    x = x.float() / 255 if x.dtype == torch.uint8 else (x.float() + 1) / 2
    return x.flatten(1)


def measure(run_dir: Path, n: int, seed: int = 0) -> dict:
    cfg = read_config(run_dir)
    family, _, step = load_family(run_dir, device="cpu")
    started = time.perf_counter()
    test = load_data(with_split(cfg, "test"))
    validation = heldout_data(cfg)
    fake = family.generator()(family.noise(n, torch.Generator().manual_seed(seed)))
    out = {"run": str(run_dir), "step": step, "prior": family.options.prior, "code_dim": family.options.code_dim,
           "supervised": family.options.supervised}
    out.update(parzen_score(pixels(fake), pixels(test.x[:n]), pixels(validation.x[:n])))
    if family.options.prior == "mixture" and family.options.supervised:
        out["share_in_component"] = family.code_share(test.x[:n], test.y[:n])
    summary = run_dir / "summary.json"
    if summary.is_file():
        out["train_seconds"] = json.loads(summary.read_text()).get("seconds")
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def reference(run_dir: Path, n: int) -> dict:
    """The protocol applied to real training images as samples (the first n, which the run trained on)."""
    cfg = read_config(run_dir)
    train = load_data(cfg)
    out = {"run": "MNIST training images", "step": 0, "prior": "", "code_dim": "", "supervised": False}
    out.update(parzen_score(pixels(train.x[:n]), pixels(load_data(with_split(cfg, "test")).x[:n]),
                            pixels(heldout_data(cfg).x[:n])))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of aae runs")
    parser.add_argument("--n", type=int, default=10_000, help="samples, test and validation images (default 10000)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    rows = [measure(run, args.n) for run in args.runs] + [reference(args.runs[0], args.n)]
    print(f"Parzen log-likelihood (nats) of {rows[0]['n_test']:,} MNIST test images under {rows[0]['n_samples']:,} "
          f"samples, pixels in [0, 1], sigma chosen on {rows[0]['n_validation']:,} held-out training images; "
          f"paper: {PAPER}\n")
    print("| run | prior | code | step | train min | Parzen LL | sigma | test codes in their component |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = f"{100 * r['share_in_component']:.1f}%" if "share_in_component" in r else ""
        minutes = f"{r['train_seconds'] / 60:.1f}" if r.get("train_seconds") else ""
        prior = r["prior"] + (" (by class)" if r["supervised"] else "")
        print(f"| {Path(r['run']).name} | {prior} | {r['code_dim']} | {r['step'] or ''} | {minutes} "
              f"| {r['parzen_ll']:.1f} +- {r['parzen_se']:.1f} | {r['sigma']:.3f} | {share} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
