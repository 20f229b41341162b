"""`ganforge bench`: images/s of ganforge's training step against the textbook PyTorch DCGAN loop.

Each net (DCGAN-64 on 3x64x64 images, the default preset's 28x28 DCGAN) is measured at each batch size on
two paths, in one process and on the same decoded data:

- ganforge: `build_trainer(cfg, dataset).train_step(stats)`: data resident on the device, statistics kept
  on the device and read once at the end;
- textbook: the loop of pytorch/examples dcgan/main.py on the same networks: a DataLoader with worker
  processes converting one image at a time, separate real and fake D passes, and `.item()` on the losses and
  D outputs every step (the example prints them), in fp32 and eager mode whatever --precision and --compile
  say, with cudnn.benchmark on as in the example.

Both paths warm up untimed, then run `steps` timed steps (CUDA is synchronised before starting and stopping
the clock); images/s = steps * batch / seconds. After the clock, one more step of each path runs under
torch.utils.flop_counter.FlopCounterMode (forward and backward matmuls and convolutions; ganforge's step
eager, since compiled graphs and CUDA graphs hide their kernels from it): GFLOP per image. Where the
convolutions bound the step (a CPU), textbook FLOPs / ganforge FLOPs is about the most any reordering of the
same arithmetic can gain; ganforge's one saving is D's weight gradients in G's step. Peak memory:
torch.cuda.max_memory_allocated on CUDA; on a CPU the process's peak resident set size (VmHWM, reset
through /proc/self/clear_refs before each path), which counts the main process only, not the DataLoader's
workers; read when the clock stops, before the FLOP count.

    ganforge bench [--device auto] [--batch 128 512] [--steps 50] [--warmup 5] [--nets dcgan64,dcgan28]
                   [--precision P] [--compile C] [--workers 2] [--json OUT] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from ganforge.config import Config, family_options, load_config
from ganforge.data import Dataset
from ganforge.errors import UserError
from ganforge.nets import build_networks
from ganforge.runs import load_data
from ganforge.runtime import resolve_device
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer
from ganforge.version import __version__

NETS = {"dcgan64": "dcgan-64", "dcgan28": "default"}  # net name -> preset
PATHS = ("ganforge", "textbook")
REAL_LABEL, FAKE_LABEL = 1.0, 0.0
# The example's D ends in a Sigmoid and uses BCELoss; ganforge's D outputs logits of shape (N,), so the textbook
# path uses BCEWithLogitsLoss, the numerically stable form of the same loss (D(x) is the sigmoid of the logit).
criterion = nn.BCEWithLogitsLoss()


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

    rate = steps * cfg.train.batch_size / _timed(trainer.device, run)
    peak = peak_memory_mb(trainer.device)
    if cfg.train.compile != "off":  # count on an eager copy of the same step
        trainer = build_trainer(replace(cfg, train=replace(cfg.train, compile="off")), dataset)
    return rate, peak, _gflop_per_image(lambda: trainer.train_step(stats), cfg.train.batch_size)


def _gflop_per_image(step, batch: int) -> float:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch / 1e9


# -- the textbook path: pytorch/examples dcgan/main.py -----------------------------------------------------


class NormalisedImages(torch.utils.data.Dataset):
    """The example's dataset: one image at a time, to float in [-1, 1] (ToTensor, then Normalize(0.5, 0.5))."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = (self.x[i].float() / 255 - 0.5) / 0.5
        return image, int(self.y[i]) if self.y is not None else 0


def textbook_loader(dataset: Dataset, batch: int, workers: int, device: torch.device) -> DataLoader:
    return DataLoader(NormalisedImages(dataset.x, dataset.y), batch_size=batch, shuffle=True, num_workers=workers,
                      drop_last=True, pin_memory=device.type == "cuda")


def textbook_networks(cfg: Config, shape: tuple[int, ...], device: torch.device):
    """ganforge's own G and D for the config's gan options (so both paths train the same networks) and the
    example's Adams: returns netG, netD, optimizerG, optimizerD."""
    netG, netD = build_networks(family_options(cfg), shape, True)
    netG, netD = netG.to(device), netD.to(device)
    o = cfg.optim
    optimizerG = torch.optim.Adam(netG.parameters(), lr=o.g.lr, betas=tuple(o.g.betas))
    optimizerD = torch.optim.Adam(netD.parameters(), lr=o.d.lr, betas=tuple(o.d.betas))
    return netG, netD, optimizerG, optimizerD


def textbook_step(netG: nn.Module, netD: nn.Module, optimizerG: torch.optim.Optimizer,
                  optimizerD: torch.optim.Optimizer, real_cpu: torch.Tensor, nz: int,
                  device: torch.device) -> tuple[float, float, float, float, float]:
    """One iteration of the example's inner loop; returns (errD, errG, D(x), D(G(z)) before and after D's step).

    Losses through `criterion` (BCE on logits, see above). G reads z as (N, nz) where the example's G reads
    (N, nz, 1, 1): ganforge's G unflattens it first.
    """
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    real = real_cpu.to(device)
    batch_size = real.size(0)
    label = torch.full((batch_size,), REAL_LABEL, dtype=real.dtype, device=device)
    output = netD(real)
    errD_real = criterion(output, label)
    errD_real.backward()
    D_x = torch.sigmoid(output).mean().item()

    noise = torch.randn(batch_size, nz, device=device)
    fake = netG(noise)
    label.fill_(FAKE_LABEL)
    output = netD(fake.detach())
    errD_fake = criterion(output, label)
    errD_fake.backward()
    D_G_z1 = torch.sigmoid(output).mean().item()
    errD = errD_real + errD_fake
    optimizerD.step()

    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    label.fill_(REAL_LABEL)  # fake labels are real for generator cost
    output = netD(fake)
    errG = criterion(output, label)
    errG.backward()
    D_G_z2 = torch.sigmoid(output).mean().item()
    optimizerG.step()
    return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2  # the example prints these every step


def textbook_rate(cfg: Config, dataset: Dataset, steps: int, warmup: int,
                  workers: int) -> tuple[float, float, float]:
    """Images/s of the textbook loop on cfg's networks and data, peak MiB, GFLOP per image."""
    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True  # as the example
    try:
        nets = textbook_networks(cfg, tuple(dataset.x.shape[1:]), device)
        loader = textbook_loader(dataset, cfg.train.batch_size, workers, device)
        batches = _epochs(loader, iter(loader))  # the first epoch's workers start here, before the clock

        def run(n: int) -> None:
            for _ in range(n):
                real_cpu, _ = next(batches)
                textbook_step(*nets, real_cpu, family_options(cfg).z_dim, device)

        run(warmup)
        rate = steps * cfg.train.batch_size / _timed(device, lambda: run(steps))
        return rate, peak_memory_mb(device), _gflop_per_image(lambda: run(1), cfg.train.batch_size)
    finally:
        torch.backends.cudnn.benchmark = benchmark


def _epochs(loader: DataLoader, first):
    """The example's `for epoch ...: for i, data in enumerate(dataloader)`, endless; each epoch a new iterator."""
    yield from first
    while True:
        yield from loader


# -- clock and memory --------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, fn) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def peak_memory_reset(device: torch.device) -> bool:
    """Start a new peak; False where a CPU's high-water mark could not be reset (it then counts from the start)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to the current RSS
        return True
    except OSError:
        return False


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: the most memory allocated by tensors; CPU: the process's peak resident set size. In MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _free(device: torch.device) -> None:
    """Release the last path's memory before the next one measures its peak."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return
    try:  # glibc keeps freed heap pages; hand them back so the next CPU peak starts from what is alive
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {torch.get_num_threads()} torch threads"


# -- the whole benchmark -----------------------------------------------------------------------------------


def bench_configs(device: str, batches: list[int], nets: list[str], precision: str | None = None,
                  compile_mode: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Every (net, batch) config, checked before anything runs."""
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
    extra = [f"train.precision={precision}"] if precision is not None else []
    extra += [f"train.compile={compile_mode}"] if compile_mode is not None else []
    return {(net, batch): load_config(NETS[net], [f"train.batch_size={batch}", f"train.device={device}",
                                                  "log.tensorboard=false", "eval.every=0", *extra, *overrides])
            for net in nets for batch in batches}


def run_bench(device: str = "auto", batches: list[int] = (128, 512), steps: int = 50, warmup: int = 5,
              nets: list[str] = tuple(NETS), precision: str | None = None, compile_mode: str | None = None,
              workers: int = 2, json_out: str | Path | None = None,
              overrides: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Measure every net x batch x path, print a header and a Markdown table; returns the rows (and writes them
    to json_out)."""
    if steps < 1 or warmup < 0 or workers < 0:
        raise UserError(f"need --steps >= 1, --warmup >= 0 and --workers >= 0; got {steps}, {warmup}, {workers}")
    configs = bench_configs(device, list(batches), list(nets), precision, compile_mode, overrides)
    dev = resolve_device(device)
    t = next(iter(configs.values())).train
    print(f"ganforge bench on {device_name(dev)} ({dev}), torch {torch.__version__}, ganforge {__version__}: "
          f"{steps} timed steps after {warmup} warm-up; ganforge precision {t.precision}, compile {t.compile}; "
          f"textbook fp32 eager, {workers} DataLoader workers")
    rows, reset_ok = [], True
    progress = tqdm(total=len(configs) * len(PATHS), desc="bench", file=sys.stderr, leave=False)
    for net in nets:
        cfg0 = configs[(net, batches[0])]
        dataset = load_data(cfg0)
        for batch in batches:
            if batch > len(dataset.x):
                raise UserError(f"--batch {batch} is more than the {len(dataset.x):,} images of {dataset.name}")
            cfg = configs[(net, batch)]
            for path in PATHS:
                progress.set_postfix_str(f"{net} batch {batch} {path}")
                _free(dev)
                reset_ok &= peak_memory_reset(dev)
                if path == "ganforge":
                    rate, peak, gflop = ganforge_rate(cfg, dataset, steps, warmup)
                else:
                    rate, peak, gflop = textbook_rate(cfg, dataset, steps, warmup, workers)
                rows.append({"net": net, "path": path, "device": str(dev), "batch": batch,
                             "images_per_s": round(rate, 2), "peak_mem_mb": round(peak, 1),
                             "gflop_per_image": round(gflop, 4)})
                progress.update()
        del dataset
    progress.close()
    _free(dev)
    print(format_table(rows))
    if not reset_ok:
        print("note: /proc/self/clear_refs could not be written, so each CPU peak is the process's peak so far")
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {json_out}")
    return rows


def format_table(rows: list[dict]) -> str:
    """The Markdown table; the ganforge row carries ganforge's images/s over the textbook's, and the textbook's
    FLOPs per image over ganforge's (the speed-up a step bound by its arithmetic can reach)."""
    textbook = {(r["net"], r["batch"]): r for r in rows if r["path"] == "textbook"}
    lines = ["| net | batch | path | images/s | peak MB | GFLOP/image | vs textbook | FLOP ratio |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        other = textbook.get((r["net"], r["batch"])) if r["path"] == "ganforge" else None
        ratio = f"{r['images_per_s'] / other['images_per_s']:.2f}x" if other else ""
        flop_ratio = f"{other['gflop_per_image'] / r['gflop_per_image']:.2f}x" if other else ""
        lines.append(f"| {r['net']} | {r['batch']} | {r['path']} | {r['images_per_s']:,.1f} | "
                     f"{r['peak_mem_mb']:,.0f} | {r['gflop_per_image']:.3f} | {ratio} | {flop_ratio} |")
    return "\n".join(lines)


def add_arguments(p) -> None:
    """The options of `ganforge bench` (and bench/throughput.py) on an argparse parser."""
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch", type=int, nargs="+", default=[128, 512], metavar="N", help="batch sizes (default 128 512)")
    p.add_argument("--steps", type=int, default=50, help="timed steps per measurement (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each measurement (default 5)")
    p.add_argument("--nets", default="dcgan64,dcgan28", help="comma-separated: dcgan64, dcgan28 (default both)")
    p.add_argument("--precision", help="ganforge path only: train.precision (auto, fp32, bf16, fp16)")
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
