"""Mode collapse on Stacked MNIST (1,000 modes), the protocol of VEEGAN and PacGAN Table 2: train the
dcgan-stacked-mnist preset with and without a stabiliser (variant stylegan: the style-based generator's preset),
draw 26,000 samples, read each channel with ganforge's MNIST classifier, count the modes seen and the KL of
their histogram to uniform. "digit KL" is the part of that KL which the three channels' digit frequencies
alone explain (see metrics/stacked.py); "confidence" is the classifier's mean softmax probability for the
digits it reads and "unsure" the share of digits read with less than 0.9: a badly drawn digit still lands in
some class, so low confidence says that the KL measures G's drawing as much as its coverage. The variant
"real" scores 26,000 training images.

    python bench/stacked_mnist.py --data-root ../shared/data/mnist [--variants dcgan,pack2,...] [--steps N] [--pictures DIR]
                                  [--set KEY=VALUE ...] [--out runs/stacked-mnist]

Each (variant, seed) result is cached under --out as soon as it is measured, keyed by the resolved recipe
(preset, variant, --set, steps, seed; not data.root or the device) and the protocol (samples, noise seed, the
classifier's weights): a rerun measures only the rows it lacks and marks the cached ones. A cached row draws
no new --pictures.

Published (same protocol): DCGAN 99 modes, KL 3.4 (VEEGAN); PacGAN Table 2: DCGAN 78.9 modes, KL 4.50;
PacDCGAN 1,000 modes, KL 0.06.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import runkeys
import torch

from ganforge import viz
from ganforge.config import load_config
from ganforge.files import write_text_atomic
from ganforge.metrics.classifier import SHIPPED, WEIGHTS_DIR, load_classifier
from ganforge.metrics.stacked import digits_to_modes, mode_statistics, read_digits
from ganforge.runs import load_data
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

N_SAMPLES = 26_000
VARIANTS = {
    "dcgan": [],
    "pack2": ["family.pack=2"],
    "pack4": ["family.pack=4"],
    "minibatch-std": ["family.minibatch_std=4"],
    "replay": ["family.replay=6400", "family.replay_mix=0.25"],
    "minibatch-std-ema-decay": ["family.minibatch_std=4", "train.ema=0.999", "optim.decay=linear"],
    # the best found: G twice as wide, R1 on a D with minibatch std, Adam without momentum, samples from the EMA
    "wide-r1-ema": ["family.minibatch_std=4", "family.g_width=128", "family.r1=1", "optim.g.betas=[0,0.99]",
                    "optim.d.betas=[0,0.99]", "train.ema=0.999", "train.steps=10000"],
}
# variants that are presets of their own: the style-based generator (its preset's 10,000 steps)
PRESETS = {"stylegan": "stylegan-stacked-mnist"}
REAL = "real"  # not a variant: the training images themselves, the floor every variant is read against
UNSURE = 0.9  # a digit read with a lower softmax probability counts as unsure


def settings(variant: str, root: str, seed: int, steps: int | None, device: str,
             sets: list[str] = ()) -> tuple[str, list[str]]:
    """The preset and overrides of one row: the variant's, then --set (the user's word wins), then seed and steps."""
    overrides = [*VARIANTS.get(variant, []), *sets, f"data.root={root}", f"train.seed={seed}", f"train.device={device}"]
    if steps:
        overrides.append(f"train.steps={steps}")
    return PRESETS.get(variant, "dcgan-stacked-mnist"), overrides


@functools.cache
def classifier_digest() -> str:
    return runkeys.file_digest(WEIGHTS_DIR / f"{SHIPPED['mnist']}.safetensors")


def row_key(variant: str, root: str, seed: int, steps: int | None, device: str, sets: list[str] = ()) -> dict:
    """Everything that decides a row's numbers; its cached result is read only under the same key. The real
    images depend on the data settings alone: another --steps or recipe does not score them again."""
    preset, overrides = settings(variant, root, seed, steps, device, sets)
    cfg = load_config(preset, overrides)
    protocol = {"n_samples": N_SAMPLES, "noise_seed": seed if variant == REAL else 1_000_000 + seed,
                "classifier": classifier_digest(), "unsure_below": UNSURE}
    if variant == REAL:
        return {"variant": variant, "data": runkeys.config_digest(cfg, "data"), "seed": seed, "protocol": protocol}
    return {"variant": variant, "preset": preset, "config": runkeys.config_digest(cfg), "set": list(sets),
            "steps": cfg.train.steps, "seed": seed, "protocol": protocol}


def run_once(variant: str, root: str, seed: int, steps: int | None, device: str, picture: str | None = None,
             sets: list[str] = ()) -> dict:
    cfg = load_config(*settings(variant, root, seed, steps, device, sets))
    if cfg.train.threads:  # a --set train.threads is keyed, so it is used, as `ganforge train` would
        torch.set_num_threads(cfg.train.threads)
    started = time.perf_counter()
    dataset = load_data(cfg)
    if variant == REAL:
        order = torch.randperm(len(dataset.x), generator=torch.Generator().manual_seed(seed))
        return score(dataset.x[order[:N_SAMPLES]]) | {"steps": 0, "train_seconds": 0.0}
    trainer = build_trainer(cfg, dataset)
    stats = RunningStats()
    for step in range(cfg.train.steps):
        trainer.train_step(stats)
        if step % 500 == 0:
            stats.read_and_reset()
    train_seconds = time.perf_counter() - started
    z = torch.randn(N_SAMPLES, cfg.family["z_dim"], generator=torch.Generator().manual_seed(1_000_000 + seed))
    samples = trainer.family.generator()({"z": z.to(trainer.device)}).cpu()
    if picture:
        save_picture(samples, picture)
    return score(samples) | {"steps": cfg.train.steps, "train_seconds": round(train_seconds, 1)}


def save_picture(samples: torch.Tensor, path: str) -> None:
    """32 samples as RGB, then the same 32 with only their first channel (in grey): the digits one channel holds."""
    first = samples[:32]
    viz.save_grid(torch.cat([first, first[:, :1].expand(-1, 3, -1, -1)]), path, nrow=8, upscale=2)


def score(images: torch.Tensor) -> dict:
    """Modes, KL and digit KL of the images, and how sure the classifier was of their digits."""
    classifier, _ = load_classifier("mnist")
    digits, confidence = read_digits(images, classifier)
    return mode_statistics(digits_to_modes(digits)) | {"confidence": float(confidence.mean()),
                                                        "unsure": float((confidence < UNSURE).float().mean())}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # the first paragraph
    parser.add_argument("--data-root", default="../shared/data/mnist", help="folder of the MNIST IDX files")
    parser.add_argument("--variants", default=",".join([REAL, *VARIANTS]),
                        help=f"comma-separated, of: {', '.join([REAL, *VARIANTS, *PRESETS])}")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, help="override train.steps (default: the preset's 5,000, or the variant's own)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every row, after the variant's own")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="runs/stacked-mnist", help="where each measured row is cached")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--pictures", metavar="DIR", help="write each run's samples to DIR/VARIANT-seedN.png")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v != REAL and v not in VARIANTS and v not in PRESETS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join([REAL, *VARIANTS, *PRESETS])}")
    if args.pictures:
        Path(args.pictures).mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"Stacked MNIST, {N_SAMPLES:,} samples, modes read by the MNIST classifier; torch {torch.__version__}")
    print(f"{'variant':28s} {'modes':>8s} {'KL':>8s} {'digit KL':>9s} {'confidence':>10s} {'unsure':>7s} "
          f"{'steps':>6s} {'train s':>8s}  cached")
    for name, modes, kl in (("VEEGAN: DCGAN", "99", "3.4"), ("PacGAN Table 2: DCGAN", "78.9", "4.50"),
                            ("PacGAN Table 2: PacDCGAN", "1000", "0.06")):
        print(f"{name:28s} {modes:>8s} {kl:>8s}")
    for variant in variants:
        for seed in range(args.seeds):
            picture = f"{args.pictures}/{variant}-seed{seed}.png" if args.pictures and variant != REAL else None
            measure = functools.partial(run_once, variant, args.data_root, seed, args.steps, args.device, picture,
                                        args.set)
            key = row_key(variant, args.data_root, seed, args.steps, args.device, args.set)
            r, hit = runkeys.cached_row(Path(args.out), f"{variant}-seed{seed}", key, measure)
            rows.append({"variant": variant, "seed": seed, **r})
            print(f"ganforge {variant:19s} {r['modes']:8d} {r['kl']:8.3f} {r['channel_kl']:9.3f} "
                  f"{r['confidence']:10.3f} {100 * r['unsure']:6.1f}% {r['steps']:6d} {r['train_seconds']:8.0f}"
                  f"  {'yes' if hit else 'no'}", flush=True)
    if args.json:
        write_text_atomic(args.json, json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
