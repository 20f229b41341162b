"""Training-step time of the growing, style-based and BigGAN-style networks at each resolution.

    python bench/architectures.py [--sizes 28,32,64,128] [--batch 32] [--steps 5] [--device cpu]
        [--presets dcgan-fashion-10k,progan-fashion,stylegan-fashion,biggan-fashion]

Each preset's networks are built for random images of each size (10 classes for the conditional ones) and
trained for --steps iterations after two warm-up iterations; progan is timed at its final level (the
schedule is shortened so the growth is complete). Prints milliseconds per iteration (every phase: D, G and
any penalty), wall-clock and the process's CPU time (with one thread, CPU time is what the step costs even
on a busy machine), images per second (wall-clock), and the parameter counts.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganforge.config import load_config
from ganforge.data.registry import Dataset
from ganforge.runtime import resolve_device
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

PRESETS = ("dcgan-fashion-10k", "progan-fashion", "stylegan-fashion", "biggan-fashion")


def random_images(size: int, n: int = 512) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=g)
    return Dataset(name=f"random-{size}", kind="image", x=x, y=torch.arange(n) % 10,
                   class_names=[str(i) for i in range(10)], source="generated")


def settings(preset: str, size: int, batch: int, device: str) -> list[str]:
    out = [f"train.batch_size={batch}", "eval.every=0", "log.tensorboard=false", f"train.device={device}"]
    if preset.startswith(("dcgan", "biggan")):
        out.append(f"family.arch={'dcgan28' if size == 28 else 'dcgan'}")
        if preset.startswith("biggan"):
            out.append(f"family.attention={size // 2}")
    if preset.startswith("progan"):
        out += ["family.images_per_phase=1", "family.batch_sizes=[]"]
    return out


def time_steps(preset: str, size: int, batch: int, steps: int, device: str) -> tuple[float, float, dict[str, int]]:
    cfg = load_config(preset, settings(preset, size, batch, device))
    trainer = build_trainer(cfg, random_images(size))
    stats = RunningStats()
    warm = 2 + (2 * trainer.family.levels if hasattr(trainer.family, "levels") else 0)
    for _ in range(warm):
        trainer.train_step(stats)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(steps):
        trainer.train_step(stats)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    params = {name: sum(p.numel() for p in net.parameters()) for name, net in trainer.family.networks.items()}
    return (time.perf_counter() - started) / steps, (time.process_time() - cpu_started) / steps, params


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="28,32,64,128")
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="auto")
    return p


def main() -> None:
    args = build_parser().parse_args()
    device = str(resolve_device(args.device))
    print(f"ms per training iteration, batch {args.batch}, {device} ({torch.get_num_threads()} threads)")
    print(f"{'preset':20s} {'size':>5s} {'ms/iter':>9s} {'CPU ms':>9s} {'images/s':>9s} {'G params':>10s} "
          f"{'D params':>10s}")
    for preset in args.presets.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            seconds, cpu, params = time_steps(preset, size, args.batch, args.steps, device)
            print(f"{preset:20s} {size:5d} {1000 * seconds:9.1f} {1000 * cpu:9.1f} {args.batch / seconds:9.0f} "
                  f"{params.get('G', 0):10,d} {params.get('D', 0):10,d}", flush=True)


if __name__ == "__main__":
    main()
