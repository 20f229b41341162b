"""`ganforge bench`: images/s of ganforge's training step against the textbook PyTorch DCGAN loop, and both
against the machine's own roof.

Each net (DCGAN-64 on 3x64x64 images, the default preset's 28x28 DCGAN) is measured at each batch size on
each path, in one process and on the same decoded data:

- ganforge, once per --precision (e.g. fp32 and bf16): `build_trainer(cfg, dataset).train_step(stats)`: data
  resident on the device, statistics kept on the device and read once at the end;
- textbook: the loop of pytorch/examples dcgan/main.py on the same networks (textbook.py), in fp32 and eager
  mode whatever --precision and --compile say.

Both paths warm up untimed, then run `steps` timed steps (CUDA is synchronised before starting and stopping
the clock); images/s = steps * batch / seconds. After the clock, one more step of each path runs under
torch.utils.flop_counter.FlopCounterMode (forward and backward matmuls and convolutions; ganforge's step
eager, since compiled graphs and CUDA graphs hide their kernels from it): GFLOP per image, and GFLOP/s =
GFLOP per image x images/s. Where the convolutions bound the step (a CPU), textbook FLOPs / ganforge FLOPs is
about the most any reordering of the same arithmetic can gain; ganforge's one saving is D's weight gradients
in G's step. Peak memory: torch.cuda.max_memory_allocated on CUDA; on a CPU the process's peak resident set
size (VmHWM, reset through /proc/self/clear_refs before each path), which counts the main process only, not
the DataLoader's workers; read when the clock stops, before the FLOP count.

The roof, measured in the same run (hardware.py): a 2048x2048 matrix product in fp32 and bf16, and the net's
widest convolution (forward and backward) at the bench's batch in each precision. Each path's GFLOP/s is
printed as a share of the matrix-product roof of its own precision.

    ganforge bench [--device auto] [--batch 128 512] [--steps 50] [--warmup 5] [--nets dcgan64,dcgan28]
                   [--precision P [P ...]] [--compile C] [--workers 2] [--json OUT] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from ganforge import hardware
from ganforge.config import Config, family_options, load_config
from ganforge.data import Dataset
from ganforge.errors import UserError
from ganforge.files import write_text_atomic
from ganforge.hardware import free_memory, gflop_per_image, peak_memory_mb, peak_memory_reset, timed
from ganforge.nets import build_networks
from ganforge.runs import load_data, with_precision
from ganforge.runtime import autocast_dtype, chosen_precision, precision_name, resolve_device
from ganforge.textbook import textbook_rate
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer
from ganforge.version import __version__

NETS = {"dcgan64": "dcgan-64", "dcgan28": "default"}  # net name -> preset


# -- the ganforge path -------------------------------------------------------------------------------------


def ganforge_rate(cfg: Config, dataset: Dataset, steps: int, warmup: int) -> tuple[float, float, float]:
    """Images/s of ganforge's own training step (one real batch per step: d_steps=1), peak MiB, GFLOP/image."""
    trainer = build_trainer(cfg, dataset)
    stats = RunningStats()
    for _ in range(warmup):
        trainer.train_step(stats)
    stats.read_and_reset()  # the warm-up's statistics, outside the clock

    def run() -> None:
        for _ in range(steps):
            trainer.train_step(stats)
        stats.read_and_reset()  # ganforge's one host sync

    rate = steps * cfg.train.batch_size / timed(trainer.device, run)
    peak = peak_memory_mb(trainer.device)
    if cfg.train.compile != "off":  # count on an eager copy of the same step
        trainer = build_trainer(replace(cfg, train=replace(cfg.train, compile="off")), dataset)
    return rate, peak, gflop_per_image(lambda: trainer.train_step(stats), cfg.train.batch_size)


# -- the roof ----------------------------------------------------------------------------------------------


def conv_roofs(cfg: Config, dataset: Dataset, device: torch.device) -> dict:
    """The widest convolution of the config's G and D at its batch: its shape and GFLOP/s in fp32 and bf16."""
    batch = cfg.train.batch_size
    g, d = build_networks(family_options(cfg), tuple(dataset.x.shape[1:]), True)
    z = torch.randn(batch, family_options(cfg).z_dim)
    real = dataset.x[:batch].float() / 127.5 - 1
    found = [c for c in (hardware.widest_conv(g, z), hardware.widest_conv(d, real)) if c is not None]
    conv, x = max(found, key=lambda c: hardware.conv_flops(*c))
    name = (f"{type(conv).__name__} {conv.in_channels}->{conv.out_channels} k{conv.kernel_size[0]} "
            f"on {x.shape[-2]}x{x.shape[-1]}")
    return {"conv": name, **{f"conv_{p}_gflops": round(hardware.conv_roof(conv, x, dtype, device), 1)
                            for p, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}}


# -- the whole benchmark -----------------------------------------------------------------------------------


def bench_configs(device: str, batches: list[int], nets: list[str], precisions: list[str] | None = None,
                  compile_mode: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Every (net, batch, precision) config, checked before anything runs (precision None: the config's own)."""
    unknown = [n for n in nets if n not in NETS]
    if unknown or not nets:
        raise UserError(f"unknown net '{','.join(unknown)}' in --nets; give a comma-separated list of "
                        f"{', '.join(NETS)}")
    bad = [b for b in batches if b < 1]
    if bad:
        raise UserError(f"--batch must be at least 1, got {bad[0]}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device} but no CUDA device is available; use --device cpu")
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N, got '{device}'")
    extra = [f"train.compile={compile_mode}"] if compile_mode is not None else []
    return {(net, batch, p): load_config(NETS[net], [f"train.batch_size={batch}", f"train.device={device}",
                                                     "log.tensorboard=false", "eval.every=0", *extra, *overrides,
                                                     *([f"train.precision={p}"] if p else [])])
            for net in nets for batch in batches for p in (precisions or [None])}


def run_bench(device: str = "auto", batches: list[int] = (128, 512), steps: int = 50, warmup: int = 5,
              nets: list[str] = tuple(NETS), precisions: list[str] | str | None = None,
              compile_mode: str | None = None, workers: int = 2, json_out: str | Path | None = None,
              overrides: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Measure the roof, then every net x batch x path, print a header and Markdown tables; returns the rows
    (and writes them, with the machine and its roof, to json_out)."""
    if steps < 1 or warmup < 0 or workers < 0:
        raise UserError(f"need --steps >= 1, --warmup >= 0 and --workers >= 0; got {steps}, {warmup}, {workers}")
    precisions = [precisions] if isinstance(precisions, str) else list(dict.fromkeys(precisions or [None]))
    configs = bench_configs(device, list(batches), list(nets), precisions, compile_mode, overrides)
    dev = resolve_device(device)
    machine = hardware.describe(dev)
    t = next(iter(configs.values())).train
    print(f"ganforge bench on {machine['device']} (bf16 units: {machine['bf16_units']}; {dev}, "
          f"{torch.get_num_threads()} torch threads), torch {torch.__version__}, ganforge {__version__}: {steps} "
          f"timed steps after {warmup} warm-up; ganforge compile {t.compile}; textbook fp32 eager, {workers} "
          f"DataLoader workers")
    roof = {p: round(hardware.matmul_roof(dtype, dev), 1) for p, dtype in (("fp32", torch.float32),
                                                                           ("bf16", torch.bfloat16))}
    rows, conv_rows, reset_ok = [], [], True
    progress = tqdm(total=len(nets) * len(batches) * (len(precisions) + 1), desc="bench", file=sys.stderr,
                    leave=False)
    for net in nets:
        dataset = load_data(configs[(net, batches[0], precisions[0])])
        for batch in batches:
            if batch > len(dataset.x):
                raise UserError(f"--batch {batch} is more than the {len(dataset.x):,} images of {dataset.name}")
            conv_rows.append({"net": net, "batch": batch,
                              **conv_roofs(configs[(net, batch, precisions[0])], dataset, dev)})
            paths = [("ganforge", p) for p in precisions] + [("textbook", precisions[0])]
            for path, p in paths:
                cfg = configs[(net, batch, p)]
                # auto as a new run would choose it here
                cfg = with_precision(cfg, chosen_precision(cfg.train.precision, dev, dataset.kind))
                dtype = precision_name(autocast_dtype(cfg.train.precision, dev, dataset.kind)) if path == "ganforge" else "fp32"
                progress.set_postfix_str(f"{net} batch {batch} {path} {dtype}")
                free_memory(dev)
                reset_ok &= peak_memory_reset(dev)
                if path == "ganforge":
                    rate, peak, gflop = ganforge_rate(cfg, dataset, steps, warmup)
                else:
                    rate, peak, gflop = textbook_rate(cfg, dataset, steps, warmup, workers)
                rows.append({"net": net, "path": path, "precision": dtype, "device": str(dev), "batch": batch,
                             "images_per_s": round(rate, 2), "peak_mem_mb": round(peak, 1),
                             "gflop_per_image": round(gflop, 4), "gflops": round(rate * gflop, 1),
                             "share_of_roof": round(rate * gflop / roof.get(dtype, roof["fp32"]), 4)})
                progress.update()
        del dataset
    progress.close()
    free_memory(dev)
    print(f"roof: a {hardware.ROOF_SIZE}x{hardware.ROOF_SIZE} matrix product at {roof['fp32']:,.0f} GFLOP/s in "
          f"fp32 and {roof['bf16']:,.0f} in bf16 ({roof['bf16'] / roof['fp32']:.2f}x)")
    print(format_conv_table(conv_rows))
    print(format_table(rows))
    if not reset_ok:
        print("note: /proc/self/clear_refs could not be written, so each CPU peak is the process's peak so far")
    if json_out:
        write_text_atomic(json_out, json.dumps({"machine": machine, "torch": torch.__version__, "roof_gflops": roof,
                                                "convolutions": conv_rows, "rows": rows}, indent=1) + "\n")
        print(f"wrote {json_out}")
    return rows


def format_conv_table(rows: list[dict]) -> str:
    lines = ["| net | batch | widest convolution (forward + backward) | fp32 GFLOP/s | bf16 GFLOP/s |",
             "|---|---:|---|---:|---:|"]
    lines += [f"| {r['net']} | {r['batch']} | {r['conv']} | {r['conv_fp32_gflops']:,.0f} | "
              f"{r['conv_bf16_gflops']:,.0f} |" for r in rows]
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    """The Markdown table; the ganforge row carries ganforge's images/s over the textbook's, and the textbook's
    FLOPs per image over ganforge's (the speed-up a step bound by its arithmetic can reach); "of roof" is the
    path's GFLOP/s over the matrix-product roof of its precision."""
    textbook = {(r["net"], r["batch"]): r for r in rows if r["path"] == "textbook"}
    lines = [("| net | batch | path | precision | images/s | GFLOP/s | of roof | peak MB | GFLOP/image "
              "| vs textbook | FLOP ratio |"),
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        other = textbook.get((r["net"], r["batch"])) if r["path"] == "ganforge" else None
        ratio = f"{r['images_per_s'] / other['images_per_s']:.2f}x" if other else ""
        flop_ratio = f"{other['gflop_per_image'] / r['gflop_per_image']:.2f}x" if other else ""
        lines.append(f"| {r['net']} | {r['batch']} | {r['path']} | {r['precision']} | {r['images_per_s']:,.1f} | "
                     f"{r['gflops']:,.1f} | {r['share_of_roof']:.0%} | {r['peak_mem_mb']:,.0f} | "
                     f"{r['gflop_per_image']:.3f} | {ratio} | {flop_ratio} |")
    return "\n".join(lines)


def add_arguments(p) -> None:
    """The options of `ganforge bench` (and bench/throughput.py) on an argparse parser."""
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch", type=int, nargs="+", default=[128, 512], metavar="N", help="batch sizes (default 128 512)")
    p.add_argument("--steps", type=int, default=50, help="timed steps per measurement (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each measurement (default 5)")
    p.add_argument("--nets", default="dcgan64,dcgan28", help="comma-separated: dcgan64, dcgan28 (default both)")
    p.add_argument("--precision", nargs="+", metavar="P",
                   help="ganforge path only: train.precision, one row each (auto, fp32, bf16, fp16; e.g. fp32 bf16)")
    p.add_argument("--compile", help="ganforge path only: train.compile (off, on, graphs)")
    p.add_argument("--workers", type=int, default=2, help="textbook DataLoader workers (default 2, as the example)")
    p.add_argument("--json", metavar="OUT.json", help="also write the rows as JSON")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for both paths (networks, data), e.g. --set family.g_width=32")


def run_from_args(args) -> list[dict]:
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    return run_bench(args.device, args.batch, args.steps, args.warmup, nets, args.precision, args.compile,
                     args.workers, args.json, args.set)


DESCRIPTION = ("Images/s and peak memory of ganforge's training step and of the pytorch/examples DCGAN loop "
               "(DataLoader, .item() every step) on the same networks and data, for DCGAN-64 (3x64x64) and the "
               "default 28x28 DCGAN; prints a Markdown table.")


def main(argv: list[str] | None = None) -> int:
    """`python bench/throughput.py ARGS` is `ganforge bench ARGS` (same options, same exit codes)."""
    import argparse

    parser = argparse.ArgumentParser(prog="bench/throughput.py", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run_from_args(args)
    except UserError as e:
        print(f"ganforge bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
