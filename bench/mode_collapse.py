"""Mode collapse on the 2D ring (8 modes) and grid (25 modes), in the protocol of PacGAN (Lin et al. 2018):
100k training points, 2,500 samples, a sample is high quality within 3 sigma of its nearest mode, a mode is
captured when it has a high-quality sample, reverse KL of the high-quality samples' mode histogram against
uniform; mean +- standard error over seeds. Each row is the toy preset plus one change.

    python bench/mode_collapse.py [--data ring,grid] [--seeds 10] [--variants gan,pacgan4,...] [--json OUT]
                                  [--steps N] [--set KEY=VALUE ...] [--out runs/mode-collapse]
    python bench/mode_collapse.py --markdown OUT.json ...     # the README table of saved results

Each (data, variant, seed) result is cached under --out as soon as it is measured, keyed by the resolved
recipe (preset, variant, --set, steps, seed) and the protocol (bench/runkeys.py): a rerun measures only the
rows it lacks, so a study stopped part-way resumes, and the table says how many of each row were cached.

The published rows (same protocol) are printed beside ganforge's: VEEGAN (Srivastava et al. 2017) Table 1
and PacGAN Table 1.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from pathlib import Path

import runkeys
import torch

from ganforge.config import load_config
from ganforge.files import write_text_atomic
from ganforge.metrics.toy import mode_metrics
from ganforge.runs import load_data
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

N_SAMPLES = 2500
# name -> overrides of the toy-ring / toy-grid preset
VARIANTS: dict[str, list[str]] = {
    "gan": [],
    "minimax": ["family.g_loss=minimax"],
    "wgan": ["family.objective=wgan", "family.clip=0.01", "family.d_steps=5", "optim.g.name=rmsprop",
             "optim.d.name=rmsprop", "optim.g.lr=5e-5", "optim.d.lr=5e-5"],
    "wgan-gp": ["family.objective=wgan", "family.gp=0.1", "family.d_steps=5", "optim.g.betas=[0.5, 0.9]",
                "optim.d.betas=[0.5, 0.9]"],
    "lsgan": ["family.objective=lsgan"],
    "hinge": ["family.objective=hinge"],
    "spectral-norm": ["family.spectral_norm=d"],
    "ttur": ["optim.g.lr=2.5e-4", "optim.d.lr=1e-3"],
    "ema": ["train.ema=0.999"],
    "label-smoothing": ["family.label_smoothing=0.1"],
    "replay": ["family.replay=2560", "family.replay_mix=0.25"],
    "minibatch-disc": ["family.minibatch_disc=8", "family.minibatch_disc_dim=4"],
    "minibatch-std": ["family.minibatch_std=4"],
    "pacgan4": ["family.pack=4"],
    "r1": ["family.r1=0.1"],
    "dragan": ["family.dragan=1"],
    "top-k": ["family.g_top_k=0.5", "family.g_top_k_decay=0.95"],
    "best": [],  # the toy-ring-best / toy-grid-best preset itself
}
PUBLISHED = {  # (modes, high quality %, reverse KL) as published, same protocol; blank: not in the table
    "ring": [("VEEGAN Table 1: GAN", "1", "", ""), ("VEEGAN Table 1: VEEGAN", "8", "52.9", ""),
             ("PacGAN Table 1: PacGAN4", "7.8 +- 0.1", "", "")],
    "grid": [("VEEGAN Table 1: GAN", "3.3", "", ""), ("VEEGAN Table 1: VEEGAN", "24.6", "40.0", ""),
             ("PacGAN Table 1: PacGAN4", "24.8 +- 0.2", "93.6", "0.04")],
}


def settings(data: str, variant: str, seed: int, steps: int | None, sets: list[str] = ()) -> tuple[str, list[str]]:
    """The preset and overrides of one row: the variant's, then --set (the user's word wins), then seed and steps."""
    preset = f"toy-{data}-best" if variant == "best" else f"toy-{data}"
    overrides = [*VARIANTS[variant], *sets, f"train.seed={seed}", "train.device=cpu"]
    if steps:
        overrides.append(f"train.steps={steps}")
    return preset, overrides


def row_key(data: str, variant: str, seed: int, steps: int | None, sets: list[str] = ()) -> dict:
    """Everything that decides a row's numbers; its cached result is read only under the same key."""
    preset, overrides = settings(data, variant, seed, steps, sets)
    cfg = load_config(preset, overrides)
    return {"data": data, "variant": variant, "preset": preset, "config": runkeys.config_digest(cfg),
            "set": list(sets), "steps": cfg.train.steps, "seed": seed,
            "protocol": {"n_samples": N_SAMPLES, "noise_seed": 1_000_000 + seed, "threshold_sigmas": 3.0}}


def run_once(data: str, variant: str, seed: int, steps: int | None, sets: list[str] = ()) -> dict:
    """Train one toy GAN in memory (no run folder) and score 2,500 samples."""
    cfg = load_config(*settings(data, variant, seed, steps, sets))
    if cfg.train.threads:  # the preset's (or --set's) threads, as `ganforge train` would use: its rounding
        torch.set_num_threads(cfg.train.threads)
    started = time.perf_counter()
    dataset = load_data(cfg)
    trainer = build_trainer(cfg, dataset)
    stats = RunningStats()
    for step in range(cfg.train.steps):
        trainer.train_step(stats)
        if step % 500 == 0:
            stats.read_and_reset()
    z = torch.randn(N_SAMPLES, cfg.family["z_dim"], generator=torch.Generator().manual_seed(1_000_000 + seed))
    result = mode_metrics(trainer.family.generator()({"z": z}), dataset.modes, dataset.sigma)
    result["seconds"] = time.perf_counter() - started
    result["steps"] = cfg.train.steps
    return result


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def markdown(runs: list[dict]) -> str:
    """One Markdown row per variant: ring and grid side by side (mean +- standard error over seeds)."""
    def cell(rows: list[dict], data: str) -> list[str]:
        if not rows:
            return ["", "", ""]
        total = 8 if data == "ring" else 25
        m, hq = (mean_se([r[k] for r in rows]) for k in ("modes_captured", "high_quality"))
        kls = [r["reverse_kl"] for r in rows]
        every = sum(r["modes_captured"] == total for r in rows)
        kl = "inf (a seed had no high-quality sample)" if math.inf in kls else "{:.3f} ± {:.3f}".format(*mean_se(kls))
        return [f"{m[0]:.1f} ± {m[1]:.1f} ({every}/{len(rows)} all)", f"{100 * hq[0]:.1f} ± {100 * hq[1]:.1f}%", kl]

    header = ("| variant | seeds | ring: modes of 8 | high quality | reverse KL | grid: modes of 25 | high quality "
              "| reverse KL |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for variant in dict.fromkeys(r["variant"] for r in runs):
        ring = [r for r in runs if r["variant"] == variant and r["data"] == "ring"]
        grid = [r for r in runs if r["variant"] == variant and r["data"] == "grid"]
        seeds = max(len(ring), len(grid))
        lines.append("| " + " | ".join([variant, str(seeds), *cell(ring, "ring"), *cell(grid, "grid")]) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # the first paragraph
    parser.add_argument("--data", default="ring,grid", help="ring, grid or both (default)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated rows (default: all)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, help="override train.steps (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every row, after the variant's own")
    parser.add_argument("--out", default="runs/mode-collapse", help="where each measured row is cached")
    parser.add_argument("--threads", type=int, help="torch threads where the preset sets no train.threads "
                        "(default: torch's choice)")
    parser.add_argument("--json", metavar="OUT", help="also write every run's numbers here")
    parser.add_argument("--markdown", nargs="+", metavar="RUNS.json",
                        help="print the Markdown table of saved --json results instead of training")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.markdown:
        runs = []
        for path in args.markdown:
            with open(path) as f:
                runs += json.load(f)
        print(markdown(runs))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]}; choose from {', '.join(VARIANTS)}")
    runs = []
    for data in [d.strip() for d in args.data.split(",")]:
        print(f"\n{data} ({'8' if data == 'ring' else '25'} modes), {args.seeds} seeds, {N_SAMPLES} samples; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        print(f"{'variant':40s} {'modes':>14s} {'high quality %':>16s} {'reverse KL':>16s} {'s/run':>7s} "
              f"{'all modes':>9s} {'cached':>7s}")
        for name, modes, hq, kl in PUBLISHED.get(data, []):
            print(f"{name:40s} {modes:>14s} {hq:>16s} {kl:>16s}")
        for variant in variants:
            results, cached = [], 0
            for seed in range(args.seeds):
                measure = functools.partial(run_once, data, variant, seed, args.steps, args.set)
                result, hit = runkeys.cached_row(Path(args.out), f"{data}-{variant}-seed{seed}",
                                                 row_key(data, variant, seed, args.steps, args.set), measure)
                results.append(result)
                cached += hit
            runs += [{"data": data, "variant": variant, "seed": s, **r} for s, r in enumerate(results)]
            m, hq, kl = (mean_se([r[k] for r in results]) for k in ("modes_captured", "high_quality", "reverse_kl"))
            every = sum(r["modes_captured"] == (8 if data == "ring" else 25) for r in results)
            seconds = sum(r["seconds"] for r in results) / len(results)
            print(f"ganforge {variant:31s} {m[0]:7.1f} +- {m[1]:4.1f} {100 * hq[0]:9.1f} +- {100 * hq[1]:4.1f} "
                  f"{kl[0]:9.3f} +- {kl[1]:4.3f} {seconds:7.1f} {every:>5d}/{len(results)} "
                  f"{cached:>4d}/{len(results)}", flush=True)
    if args.json:
        write_text_atomic(args.json, json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
