"""Optimisers: one per optimiser group of a family, the learning-rate schedule, and freezing a group's weights
during another group's phase."""

from __future__ import annotations

import torch

from ganforge.config import Config, OptimizerConfig


def make_optimizer(opt: OptimizerConfig, params, device: torch.device | None = None,
                   amp_dtype: torch.dtype | None = None) -> torch.optim.Optimizer:
    if opt.name == "adam":
        fused = fused_adam(device, amp_dtype)
        return torch.optim.Adam(params, lr=opt.lr, betas=tuple(opt.betas), fused=fused or None,
                                foreach=None if fused else True)
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum)
    return torch.optim.RMSprop(params, lr=opt.lr, momentum=opt.momentum)


def fused_adam(device: torch.device | None, amp_dtype: torch.dtype | None) -> bool:
    """Adam as one fused kernel for all parameters: on CUDA, and on a CPU under autocast. An fp32 CPU run keeps
    foreach Adam (one call per operation for all parameters), bit for bit the per-tensor result its recorded
    digests were made with; the CPU's fused kernel is faster but rounds differently."""
    return device is not None and (device.type == "cuda" or amp_dtype is not None)


def group_parameters(nets: list[torch.nn.Module]) -> list[torch.nn.Parameter]:
    """The parameters of a group's networks, each once."""
    seen: dict[int, torch.nn.Parameter] = {}
    for net in nets:
        for p in net.parameters():
            seen.setdefault(id(p), p)
    return list(seen.values())


def lr_factor(cfg: Config, step: int) -> float:
    """The learning-rate multiplier at `step` (optim.decay); a function of the step alone, so resume needs no
    state."""
    o, total = cfg.optim, cfg.train.steps
    start = int(o.decay_start * total)
    if o.decay == "none" or step < start:
        return 1.0
    return 1.0 - (step - start) / (total - start)


def set_learning_rates(cfg: Config, optimizers: dict[str, torch.optim.Optimizer], factor: float) -> None:
    """Each group's optim.<group>.lr times `factor`."""
    for name, opt in optimizers.items():
        lr = cfg.optim.group(name).lr * factor
        for group in opt.param_groups:
            group["lr"] = lr


class frozen:
    """Context manager: no weight gradients for `modules` inside (they would be computed and thrown away)."""

    def __init__(self, modules: torch.nn.Module | list[torch.nn.Module]):
        modules = modules if isinstance(modules, list) else [modules]
        self.params = [p for p in group_parameters(modules) if p.requires_grad]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.params:
            p.requires_grad_(True)
