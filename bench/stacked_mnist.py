"""Mode collapse on Stacked MNIST (1,000 modes), the protocol of VEEGAN and PacGAN Table 2: train the
dcgan-stacked-mnist preset with and without a stabiliser, draw 26,000 samples, read each channel with
ganforge's MNIST classifier, count the modes seen and the KL of their histogram to uniform. "digit KL" is the
part of that KL which the three channels' digit frequencies alone explain (see metrics/stacked.py).

    python bench/stacked_mnist.py --data-root ../shared/data/mnist [--variants dcgan,pack2,...] [--steps N]

Published (same protocol): DCGAN 99 modes, KL 3.4 (VEEGAN); PacGAN Table 2: DCGAN 78.9 modes, KL 4.50;
PacDCGAN 1,000 modes, KL 0.06.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ganforge.config import load_config
from ganforge.metrics.classifier import load_classifier
from ganforge.metrics.stacked import mode_statistics, stacked_modes
from ganforge.train.log import RunningStats
from ganforge.train.loop import build_trainer, load_data
from ganforge.train.samples import generate

N_SAMPLES = 26_000
VARIANTS = {
    "dcgan": [],
    "pack2": ["model.pack=2"],
    "pack4": ["model.pack=4"],
    "minibatch-std": ["model.minibatch_std=4"],
    "replay": ["train.replay=6400", "train.replay_mix=0.25"],
    "minibatch-std-ema-decay": ["model.minibatch_std=4", "train.ema=0.999", "optim.decay=linear"],
}


def run_once(variant: str, root: str, seed: int, steps: int | None, device: str) -> dict:
    overrides = [*VARIANTS[variant], f"data.root={root}", f"train.seed={seed}", f"train.device={device}"]
    if steps:
        overrides.append(f"train.steps={steps}")
    cfg = load_config("dcgan-stacked-mnist", overrides)
    started = time.perf_counter()
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for step in range(cfg.train.steps):
        trainer.train_step(stats)
        if step % 500 == 0:
            stats.read_and_reset()
    train_seconds = time.perf_counter() - started
    z = torch.randn(N_SAMPLES, cfg.model.z_dim, generator=torch.Generator().manual_seed(1_000_000 + seed))
    classifier, _ = load_classifier("mnist")
    samples = generate(trainer.family, z.to(trainer.device)).cpu()
    result = mode_statistics(stacked_modes(samples, classifier))
    result.update(steps=cfg.train.steps, train_seconds=round(train_seconds, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # the first paragraph
    parser.add_argument("--data-root", default="../shared/data/mnist", help="folder of the MNIST IDX files")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, help="override train.steps (default: the preset's 5,000)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    rows = []
    print(f"Stacked MNIST, {N_SAMPLES:,} samples, modes read by the MNIST classifier; torch {torch.__version__}")
    print(f"{'variant':28s} {'modes':>8s} {'KL':>8s} {'digit KL':>9s} {'steps':>6s} {'train s':>8s}")
    for name, modes, kl in (("VEEGAN: DCGAN", "99", "3.4"), ("PacGAN Table 2: DCGAN", "78.9", "4.50"),
                            ("PacGAN Table 2: PacDCGAN", "1000", "0.06")):
        print(f"{name:28s} {modes:>8s} {kl:>8s}")
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        for seed in range(args.seeds):
            r = run_once(variant, args.data_root, seed, args.steps, args.device)
            rows.append({"variant": variant, "seed": seed, **r})
            print(f"ganforge {variant:19s} {r['modes']:8d} {r['kl']:8.3f} {r['channel_kl']:9.3f} {r['steps']:6d} "
                  f"{r['train_seconds']:8.0f}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
