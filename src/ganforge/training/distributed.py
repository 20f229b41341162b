"""Training on several processes with PyTorch DistributedDataParallel, launched by torchrun:

    torchrun --nproc_per_node=N -m ganforge train ...        (multi-node: add --nnodes and --rdzv options)

How ganforge uses it, and why:
- train.batch_size is the global batch. Every rank draws the same global permutation of the data and the same
  global noise, and keeps its own slice of each global batch: N ranks together compute the very batch one
  process would, so a model without batch statistics (BatchNorm, minibatch std) trains to the same weights
  (DDP averages the gradients, and every loss is a mean over the batch).
- Each network is wrapped once (Family.distribute). A loss runs at least one forward through the wrapper of
  every network whose weights its backward trains: that readies DDP's gradient all-reduce. Other uses of the
  network in the same loss, through the wrapper again or through the plain module, are free: autograd sums
  a parameter's gradient over all its uses before DDP's hook sees it, so the all-reduce averages the whole
  gradient once. A wrapped forward of a network frozen in the phase reduces nothing and is harmless.
  Gradient penalties (R1, WGAN-GP) take torch.autograd.grad through the plain module: DDP does not support
  it through the wrapper (a penalty-only loss kept each rank's own gradient); Family.synced adds the
  wrapped forward such a loss lacks. tests/training/test_distributed.py checks StyleGAN's, CycleGAN's and
  the GAN's gradients against one process's.
- Rank 0 alone writes: logs, samples, evaluations, checkpoints. Every rank reads the checkpoints (resume and
  rollback), so a run folder must be on storage all ranks see. The logged statistics are averaged over ranks.
- Each rank's other random streams (dropout, penalty interpolation, replay) get their own seed
  (train.seed + rank * ganforge.seeds.RANK_STRIDE).
- The process group is destroyed however training ends: after a barrier where the rank finished (no rank closes
  its connections while another still reads them), at once where it failed; torchrun stops the other ranks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ganforge.errors import UserError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Ranks()


def ranks_from_env() -> Ranks:
    """The rank layout torchrun sets in the environment (RANK, WORLD_SIZE, LOCAL_RANK); one process without."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return Ranks(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    except ValueError as exc:
        raise UserError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc}); launch with torchrun") from exc


def start(ranks: Ranks, device_name: str) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU) and return this rank's device."""
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise UserError(f"train.device is '{device_name}' but no CUDA device is available; use --device cpu")
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", rank=ranks.rank, world_size=ranks.world)
    return device


def stop(finished: bool = True) -> None:
    """Leave the process group. A rank that finished first waits at a barrier for the others, so that no rank
    closes its connections while another still reads them (gloo can abort that reader). A rank that failed leaves
    at once: the others may never reach the barrier, and torchrun stops them."""
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def local_batch(global_batch: int, ranks: Ranks) -> int:
    if global_batch % ranks.world:
        raise UserError(f"train.batch_size {global_batch} does not split evenly over {ranks.world} processes; "
                        f"use a multiple of {ranks.world}")
    return global_batch // ranks.world


def my_slice(batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's part of a global batch."""
    if not ranks.enabled:
        return batch
    n = len(batch) // ranks.world
    return batch[ranks.rank * n : (ranks.rank + 1) * n]


def mean_over_ranks(values: dict[str, float], ranks: Ranks) -> dict[str, float]:
    """Logged statistics averaged over the ranks (called at log steps only: one small all-reduce)."""
    if not ranks.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return dict(zip(keys, (t / ranks.world).tolist()))


def wrap(net: torch.nn.Module, device: torch.device, sync_bn: bool) -> torch.nn.parallel.DistributedDataParallel:
    """`net` (converted in place to SyncBatchNorm with sync_bn) inside DistributedDataParallel."""
    if sync_bn:
        if device.type != "cuda":
            raise UserError("train.sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); drop it on CPU")
        for name, child in list(net.named_children()):  # convert in place, so the family keeps its module
            setattr(net, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(child))
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)
