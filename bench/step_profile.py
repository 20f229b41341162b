"""Where the default training step's time goes, and what each change to the step buys: the ablation of the
CPU bf16 path (autocast, channels-last layout, fused Adam) against the recorded fp32 step, and the
torch.profiler table of one step.

    python bench/step_profile.py [--batch 32 128] [--steps 60] [--repeats 3] [--net dcgan28] [--top 15]

Every variant builds the default recipe's trainer (`build_trainer`, the step ganforge trains with) with one
setting changed, warms it up, then times --steps steps; the variants are interleaved --repeats times and each
keeps its best round, so a passing disturbance does not decide a ratio. The profiler table is ganforge's own
step in the arithmetic `train.precision=auto` picks on this machine, grouped by operator, sorted by the time
spent in the operator itself. Measure on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
from unittest import mock

import torch

from ganforge import hardware
from ganforge.config import load_config
from ganforge.runs import load_data, with_precision
from ganforge.runtime import chosen_precision
from ganforge.throughput import NETS as BENCH_NETS
from ganforge.training import build, optim
from ganforge.training.log import RunningStats

NETS = {**BENCH_NETS, "stylegan28": "stylegan-fashion"}  # net name -> preset

# (name, train.precision, channels-last on a CPU, fused Adam on a CPU); None: as ganforge decides
VARIANTS = (
    ("fp32 (as recorded: foreach Adam)", "fp32", None, None),
    ("fp32 + fused Adam", "fp32", None, True),
    ("bf16 autocast, foreach Adam", "bf16", None, False),
    ("bf16 autocast + fused Adam (ganforge)", "bf16", None, None),
    ("bf16 + fused Adam + channels-last", "bf16", True, None),
)


@contextlib.contextmanager
def step_settings(channels_last: bool | None, fused: bool | None):
    """The trainer built inside uses these settings instead of ganforge's choice (None keeps the choice)."""
    with contextlib.ExitStack() as stack:
        if channels_last is not None:
            stack.enter_context(mock.patch.object(build, "channels_last_layout", lambda *a: channels_last))
        if fused is not None:
            stack.enter_context(mock.patch.object(optim, "fused_adam", lambda *a: fused))
        yield


def trainer_for(net: str, batch: int, precision: str, channels_last: bool | None, fused: bool | None):
    cfg = load_config(NETS[net], [f"train.batch_size={batch}", "train.device=cpu", "eval.every=0",
                                  "log.tensorboard=false", f"train.precision={precision}"])
    dataset = load_data(cfg)
    cfg = with_precision(cfg, chosen_precision(cfg.train.precision, torch.device("cpu"), dataset.kind))
    with step_settings(channels_last, fused):
        return build.build_trainer(cfg, dataset)


def images_per_s(trainer, steps: int) -> float:
    stats = RunningStats()

    def run() -> None:
        for _ in range(steps):
            trainer.train_step(stats)
        stats.read_and_reset()

    return steps * trainer.cfg.train.batch_size / hardware.timed(trainer.device, run)


def ablation(net: str, batches: list[int], steps: int, repeats: int) -> None:
    print(f"| {net}: variant | " + " | ".join(f"batch {b}: images/s | vs fp32" for b in batches) + " |")
    print("|---|" + "---:|---:|" * len(batches))
    best: dict[tuple[str, int], float] = {}
    trainers = {(v[0], b): trainer_for(net, b, *v[1:]) for v in VARIANTS for b in batches}
    for trainer in trainers.values():
        images_per_s(trainer, 5)  # warm-up: first-call allocations and kernel choices
    for _ in range(repeats):
        for key, trainer in trainers.items():
            best[key] = max(best.get(key, 0.0), images_per_s(trainer, steps))
    for name, *_ in VARIANTS:
        cells = [f"{best[(name, b)]:,.0f} | {best[(name, b)] / best[(VARIANTS[0][0], b)]:.2f}x" for b in batches]
        print(f"| {name} | " + " | ".join(cells) + " |")


def style_against_dcgan(batches: list[int], steps: int, repeats: int) -> None:
    """StyleGAN's step (its preset: mapping network, modulated convolutions, noise, skip outputs, residual D,
    lazy R1 every 16 steps, style mixing) against the DCGAN step at the same 28x28 and batch."""
    print("| StyleGAN step vs DCGAN step (28x28) | " + " | ".join(f"batch {b}: fp32 | bf16 (auto)" for b in batches) + " |")
    print("|---|" + "---:|---:|" * len(batches))
    rates: dict[tuple[str, int, str], float] = {}
    trainers = {(net, b, p): trainer_for(net, b, p, None, None)
                for net in ("dcgan28", "stylegan28") for b in batches for p in ("fp32", "auto")}
    for trainer in trainers.values():
        images_per_s(trainer, 5)
    for _ in range(repeats):
        for key, trainer in trainers.items():
            rates[key] = max(rates.get(key, 0.0), images_per_s(trainer, steps))
    for net in ("dcgan28", "stylegan28"):
        cells = [f"{rates[(net, b, p)]:,.0f} images/s" for b in batches for p in ("fp32", "auto")]
        print(f"| {net} | " + " | ".join(cells) + " |")
    cells = [f"{rates[('dcgan28', b, p)] / rates[('stylegan28', b, p)]:.2f}x" for b in batches for p in ("fp32", "auto")]
    print("| StyleGAN step / DCGAN step (time) | " + " | ".join(cells) + " |")


def profile(net: str, batch: int, steps: int, top: int) -> None:
    trainer = trainer_for(net, batch, "auto", None, None)
    stats = RunningStats()
    for _ in range(5):
        trainer.train_step(stats)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step(stats)
        stats.read_and_reset()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\n{net} at batch {batch}, {trainer.cfg.train.precision} (train.precision=auto here), {steps} steps: "
          f"{total / 1e3 / steps:.1f} ms of operator time per step")
    print("| operator | share of the step | ms per step | calls per step |")
    print("|---|---:|---:|---:|")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]:
        print(f"| {e.key} | {e.self_cpu_time_total / total:.1%} | {e.self_cpu_time_total / 1e3 / steps:.2f} | "
              f"{e.count / steps:g} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per round (default 60)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds, best kept (default 3)")
    parser.add_argument("--net", nargs="+", default=["dcgan28"], choices=tuple(NETS))
    parser.add_argument("--top", type=int, default=15, help="operators in the profiler table (default 15)")
    parser.add_argument("--no-profile", action="store_true", help="no profiler table")
    parser.add_argument("--profile-net", choices=tuple(NETS), help="the net profiled (default: the first --net)")
    parser.add_argument("--stylegan", action="store_true", help="StyleGAN's step against DCGAN's, not the ablation")
    args = parser.parse_args()
    machine = hardware.describe(torch.device("cpu"))
    print(f"{machine['device']} (bf16 units: {machine['bf16_units']}), {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}\n")
    if args.stylegan:
        style_against_dcgan(args.batch, args.steps, args.repeats)
    else:
        for net in args.net:
            ablation(net, args.batch, args.steps, args.repeats)
            print()
    if not args.no_profile:
        profile(args.profile_net or args.net[0], args.batch[0], 20, args.top)


if __name__ == "__main__":
    main()
