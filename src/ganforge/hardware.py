"""What the machine is and what it can do: the processor's name, its bf16 units, and its measured roof.

The roof is what the same cores reach on work shaped for them: a large matrix product in fp32 and in bf16, and
one convolution (forward and backward) at a given batch. A training step's FLOP/s read against it says how
much of the machine the step uses. bf16 units are read from the CPU's feature flags (AMX tiles, AVX512-BF16),
never guessed from its name: the same model name covers chips with and without them.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOF_SIZE = 2048  # the matrix product's side: large enough to run at the cores' peak, small enough to be quick
ROOF_SECONDS = 0.5  # each roof measurement repeats its work for at least this long


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    return set(line.split(":", 1)[-1].split())


def cpu_capabilities() -> dict:
    """torch's own reading of the CPU's features where it has one (torch >= 2.6), else /proc/cpuinfo's flags."""
    read = getattr(torch.cpu, "get_capabilities", None)
    if read is not None:
        try:
            return dict(read())
        except RuntimeError:
            pass
    flags = _cpu_flags()
    return {"amx_bf16": "amx_bf16" in flags, "amx_tile": "amx_tile" in flags, "avx512_bf16": "avx512_bf16" in flags}


def bf16_units(capabilities: dict | None = None) -> str:
    """The CPU's native bf16 arithmetic: 'AMX' (tile matrix units), 'AVX512-BF16' (dot-product instructions) or
    'none' (bf16 is emulated through fp32 and gains nothing)."""
    caps = cpu_capabilities() if capabilities is None else capabilities
    if caps.get("amx_bf16") and caps.get("amx_tile", True):
        return "AMX"
    if caps.get("avx512_bf16"):
        return "AVX512-BF16"
    return "none"


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 arithmetic runs natively (and so faster than fp32) on `device`."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bf16_units() != "none"


def cpu_name() -> str:
    read = getattr(torch.cpu, "get_capabilities", None)
    if read is not None:
        try:
            name = read().get("cpu_name")
            if name:
                return str(name)
        except RuntimeError:
            pass
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def describe(device: torch.device) -> dict:
    """The machine as a bench header and its JSON name it."""
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "bf16_units": "cuda" if native_bf16(device) else "none"}
    return {"device": cpu_name(), "bf16_units": bf16_units(), "threads": torch.get_num_threads()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(fn, flops: float, device: torch.device, min_seconds: float) -> float:
    """GFLOP/s of `fn` (which does `flops` FLOPs): warmed up, then repeated until min_seconds have passed."""
    fn()
    fn()
    _sync(device)
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and runs >= 3:
            return flops * runs / elapsed / 1e9


def matmul_roof(dtype: torch.dtype, device: torch.device, size: int | None = None,
                min_seconds: float | None = None) -> float:
    """GFLOP/s of a size x size matrix product in `dtype`: the cores' peak on the friendliest work there is."""
    size = size or ROOF_SIZE
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device, dtype)
    b = torch.randn(size, size, generator=g).to(device, dtype)
    return _rate(lambda: a @ b, 2.0 * size**3, device, min_seconds or ROOF_SECONDS)


def conv_flops(conv: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one forward pass of convolution `conv` on input `x` (a multiply and an add per weight use)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        conv(x)
    return float(counter.get_total_flops())


def widest_conv(net: nn.Module, example: torch.Tensor) -> tuple[nn.Module, torch.Tensor] | None:
    """The convolution of `net` with the most FLOPs in a forward pass of `example`, and its input there."""
    inputs: list[tuple[nn.Module, torch.Tensor]] = []
    convs = [m for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    handles = [m.register_forward_hook(lambda m, args, out: inputs.append((m, args[0].detach()))) for m in convs]
    try:
        with torch.no_grad():
            net(example)
    finally:
        for h in handles:
            h.remove()
    return max(inputs, key=lambda c: conv_flops(*c)) if inputs else None


def conv_roof(conv: nn.Module, x: torch.Tensor, dtype: torch.dtype, device: torch.device,
              min_seconds: float | None = None) -> float:
    """GFLOP/s of one convolution's forward and backward (input and weight gradients) on input `x`, in `dtype`
    through autocast as a training step runs it (fp32: no autocast). FLOPs counted by torch's FlopCounterMode."""
    import copy

    layer = copy.deepcopy(conv).to(device)
    x = x.to(device).requires_grad_(True)
    autocast = dtype != torch.float32

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=autocast):
            out = layer(x)
        out.float().sum().backward()

    with FlopCounterMode(display=False) as counter:
        step()
    return _rate(step, counter.get_total_flops(), device, min_seconds or ROOF_SECONDS)


# -- clock and memory --------------------------------------------------------------------------------------


def timed(device: torch.device, fn) -> float:
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


def free_memory(device: torch.device) -> None:
    """Release the last path's memory before the next one measures its peak."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return
    try:  # glibc keeps freed heap pages; hand them back so the next CPU peak starts from what is alive
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def gflop_per_image(step, batch: int) -> float:
    """GFLOP per image of one call of `step` on a batch of `batch` (matmuls and convolutions, forward and
    backward, as torch's FlopCounterMode counts them)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch / 1e9
