"""Building a trainer: the family on its device (compiled, wrapped for several processes), its optimisers,
the resident data, the noise, the EMA and the precision."""

from __future__ import annotations

import warnings

import torch

from ganforge import runs, seeds
from ganforge.config import Config
from ganforge.data import Dataset
from ganforge.data.spec import data_spec, training_labels
from ganforge.families import Family, build_family
from ganforge.generator import eval_mode
from ganforge.runtime import autocast_dtype, resolve_device, seed_everything
from ganforge.training import distributed
from ganforge.training.distributed import SINGLE, Ranks
from ganforge.training.ema import EMA
from ganforge.training.optim import group_parameters, make_optimizer
from ganforge.training.resident import make_resident
from ganforge.training.trainer import Trainer


def build_trainer(cfg: Config, dataset: Dataset, ranks: Ranks = SINGLE, device: torch.device | None = None) -> Trainer:
    """Everything training needs; with several `ranks` (torchrun), `device` is this rank's and the networks
    are wrapped in DistributedDataParallel."""
    device = device or resolve_device(cfg.train.device)
    if ranks.enabled:
        distributed.local_batch(cfg.train.batch_size, ranks)  # the global batch must split evenly
    seed_everything(cfg.train.seed)  # the same initial weights on every rank
    family = build_family(cfg, data_spec(dataset)).to(device)
    amp_dtype = autocast_dtype(cfg.train.precision, device, dataset.kind)
    channels_last = channels_last_layout(device, dataset.kind)
    if channels_last:
        family.to(memory_format=torch.channels_last)
    if ranks.enabled:
        family.distribute(lambda net: distributed.wrap(net, device, cfg.train.sync_bn))
        if not ranks.main:  # distinct, reproducible streams for dropout, penalties and replay on each rank
            seed_everything(cfg.train.seed + ranks.rank * seeds.RANK_STRIDE)
    if family.spec.translates or dataset.kind == "video":  # pictures use the same held-out inputs at every step
        family.attach_showcase(runs.showcase(cfg, dataset))
    optimizers = {name: make_optimizer(cfg.optim.group(name), group_parameters(nets), device, amp_dtype)
                  for name, nets in family.groups().items()}
    data = make_resident(dataset, training_labels(dataset), device, seed=cfg.train.seed, channels_last=channels_last)
    noise = torch.Generator(device=device).manual_seed(cfg.train.seed + seeds.TRAINING_NOISE)
    ema = None
    if cfg.train.ema > 0:
        ema = EMA(family.networks[family.SAMPLER], cfg.train.ema)
        family.attach_ema(ema)  # grids, evaluation and `ganforge sample` use the average
    scalers = None
    if amp_dtype == torch.float16:
        scalers = {name: torch.amp.GradScaler(device.type) for name in optimizers}
    if cfg.train.compile != "off":
        compile_networks(family, cfg, device)
    return Trainer(cfg, family, optimizers, data, noise, device, ema=ema, amp_dtype=amp_dtype, scalers=scalers,
                   ranks=ranks, phases=family.phases())


def channels_last_layout(device: torch.device, data_kind: str) -> bool:
    """Whether images and convolutions use the channels-last layout: on CUDA, the layout cuDNN's fastest
    convolutions (and tensor cores) want. Not on a CPU, in either precision: there the layouts meet where a
    net flattens or reshapes (D's last conv, G's first), and an elementwise backward over one tensor of each
    layout runs ~20x slower than over two alike, more than oneDNN's convolutions gain (bench/step_profile.py:
    0.94x of plain bf16 autocast on an AVX512-BF16 CPU)."""
    return data_kind == "image" and device.type == "cuda"


def compile_networks(family: Family, cfg: Config, device: torch.device) -> bool:
    """torch.compile every network in place (weights and state_dict keys unchanged); train.compile=graphs
    also captures CUDA graphs. A trial forward finds a compiler that cannot work here (no C++ compiler, no
    Triton), in which case training goes on uncompiled with a warning."""
    mode = "reduce-overhead" if cfg.train.compile == "graphs" else None
    nets = list(family.networks.values())
    for net in nets:
        net.compile(mode=mode)
    try:
        # eval mode, no grad: BatchNorm statistics and RNG streams are left untouched
        with eval_mode(family), torch.no_grad():
            family.forward_check(device)
        return True
    except Exception as exc:  # noqa: BLE001 - the compiler stack raises many types; any failure: do not compile
        torch._dynamo.reset()  # loaded by net.compile above
        for net in nets:
            net._compiled_call_impl = None  # undo nn.Module.compile
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        warnings.warn(f"train.compile={cfg.train.compile} failed ({first[:200]}); training without compilation",
                      stacklevel=2)
        return False
