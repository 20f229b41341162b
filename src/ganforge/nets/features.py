"""A discriminator's intermediate activations: the features in which a distance between images is measured
(Larsen et al. 2016's learned similarity), as projection does."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganforge.nets.mlp import Maxout
from ganforge.nets.stabilisers import MinibatchDiscrimination, MinibatchStdDev

ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.SELU, nn.ELU, nn.GELU, Maxout)
BATCH_STATISTICS = (MinibatchStdDev, MinibatchDiscrimination)


def activations(net: nn.Module, forward: Callable[[], object]) -> list[torch.Tensor]:
    """The outputs of `net`'s activation layers while `forward()` runs it, in the order they run, up to its first
    layer that mixes the samples of a batch (minibatch statistics): past it an image's features would depend on
    the other images of the batch."""
    chosen = []
    for module in net.modules():
        if isinstance(module, BATCH_STATISTICS):
            break
        if isinstance(module, ACTIVATIONS):
            chosen.append(module)
    out: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        out.append(output)
        if len(out) == len(chosen):  # the rest of the forward (batch statistics, the head) is not needed
            raise _Done

    handles = [m.register_forward_hook(keep) for m in chosen]
    try:
        forward()
    except _Done:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return out


class _Done(Exception):
    """Ends a forward pass once the features wanted are in."""
