"""One training iteration's gradients of a family, written for test_distributed.py to compare.

    python gradients_worker.py FAMILY OUT                          one process: the whole global batch
    torchrun --nproc_per_node=2 gradients_worker.py FAMILY OUT     each rank its share, through DDP (gloo)

Each phase of the family's first iteration runs as the trainer runs it (its frozen groups frozen), on the same
weights; the gradients of the group it steps are written to OUT/rank<r>.safetensors as
"<phase>.<network>.<parameter>".
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.families import Step, build_family
from ganforge.runtime import seed_everything
from ganforge.training import distributed
from ganforge.training.optim import frozen, group_parameters

GLOBAL_BATCH = 8
FAMILIES = {  # preset, settings (tiny networks), the data's shape
    # minibatch std pools statistics within a rank's share (groups of 1: none), as BatchNorm would
    "stylegan": ("stylegan-fashion", ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "family.w_dim=16",
                                      "family.mapping_layers=2", "family.max_channels=16", "family.mbstd_group=1"],
                 DataSpec((1, 28, 28), True)),
    # the identity loss on: G_AB and G_BA each run three times in G's loss
    "cyclegan": ("cyclegan-mnist-colour", ["family.g_width=4", "family.d_width=8", "family.blocks=1",
                                           "family.identity=0.5"],
                 DataSpec((3, 28, 28), True, input_shape=(1, 28, 28), paired=False)),
    # R1 (autograd.grad of D's output) in every D step
    "gan": ("toy-ring", ["family.g_hidden=[16]", "family.d_hidden=[16]", "family.r1=1"],
            DataSpec((2,), False)),
}


def global_batch(spec: DataSpec) -> Batch:
    g = torch.Generator().manual_seed(7)
    x = torch.rand(GLOBAL_BATCH, *spec.shape, generator=g) * 2 - 1
    if not spec.translates:
        return Batch(x=x)
    return Batch(x_A=torch.rand(GLOBAL_BATCH, *spec.input_shape, generator=g) * 2 - 1, x_B=x)


def main(name: str, out: Path) -> None:
    preset, sets, spec = FAMILIES[name]
    ranks = distributed.ranks_from_env()
    device = distributed.start(ranks, "cpu") if ranks.enabled else torch.device("cpu")
    # In float64: the test is of how gradients are reduced, not of rounding. In float32 a share's kernels and
    # the whole batch's round differently, and a pre-activation within that rounding of a leaky ReLU's kink
    # takes the other slope (so StyleGAN's G gradients came out 4% off one process's on an AVX-512 Xeon).
    torch.set_default_dtype(torch.float64)
    seed_everything(0)  # the same initial weights in every process
    family = build_family(load_config(preset, sets), spec)
    if ranks.enabled:
        family.distribute(lambda net: distributed.wrap(net, device, sync_bn=False))
    share = GLOBAL_BATCH // ranks.world
    rows = slice(ranks.rank * share, (ranks.rank + 1) * share)
    batch = Batch(**{k: v[rows] for k, v in global_batch(spec).fields.items()})
    noise = torch.Generator().manual_seed(1)  # every rank draws the global noise and keeps its share
    grads = {}
    names = {id(p): f"{net}.{k}" for net, module in family.networks.items() for k, p in module.named_parameters()}
    for phase in family.phases():
        groups = family.groups()
        params = group_parameters(groups[phase.steps])
        with frozen([net for g in phase.freeze for net in groups[g]]):
            loss, _ = family.loss(phase.name, batch, Step(0, 0, GLOBAL_BATCH, noise, device, ranks.rank, ranks.world))
            for p in params:
                p.grad = None
            loss.backward()
        grads.update({f"{phase.name}.{names[id(p)]}": p.grad.contiguous() for p in params if p.grad is not None})
    out.mkdir(parents=True, exist_ok=True)
    save_file(grads, str(out / f"rank{ranks.rank}.safetensors"))
    distributed.stop()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
