"""FreezeD (Mo et al. 2020): fine-tune a GAN with the first blocks of D frozen.

D's early blocks compute generic image features that transfer from the source domain; with few target images,
training them again lets D overfit. Freezing them leaves only D's later blocks and head to learn the new
domain. A block is a weight layer (convolution or dense layer) with what follows it up to the next weight
layer: its normalisation, activation, attention and dropout. The head (D's last weight layer, with the
minibatch statistics that feed it, and a conditional D's projection or classifier) always trains.

Frozen means no gradient and no optimiser step: the weights stay bit for bit as the source left them.
BatchNorm in a frozen block still normalises each batch by its own statistics, as everywhere in training.
"""

from __future__ import annotations

from torch import nn

from ganforge.errors import UserError
from ganforge.nets.conditional import ConditionalD
from ganforge.nets.mlp import Maxout
from ganforge.nets.stabilisers import MinibatchDiscrimination, MinibatchStdDev

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear, Maxout)


def _starts_block(m: nn.Module) -> bool:
    """A weight layer, or a unit that begins with one (a dense network's Linear + activation)."""
    return isinstance(m, WEIGHT_LAYERS) or (isinstance(m, nn.Sequential) and len(m) > 0
                                            and isinstance(m[0], WEIGHT_LAYERS))


def d_blocks(d: nn.Module) -> list[list[nn.Module]]:
    """D's blocks before its head, in order (layers before the first weight layer join the first block)."""
    if isinstance(d, ConditionalD):
        layers = list(d.body)  # the head, the projection and the classifier sit outside the body
    elif isinstance(d, nn.Sequential):
        layers = list(d)
        layers = layers[: max(i for i, m in enumerate(layers) if _starts_block(m))]  # the head
    else:
        raise UserError(f"config key 'family.freeze_d': this D ({type(d).__name__}) has no blocks to freeze; "
                        "set family.freeze_d=0")
    stats = [i for i, m in enumerate(layers) if isinstance(m, (MinibatchStdDev, MinibatchDiscrimination))]
    layers = layers[: stats[0]] if stats else layers  # the minibatch statistics feed the head: they train with it
    blocks: list[list[nn.Module]] = []
    for m in layers:
        if not blocks or (_starts_block(m) and any(_starts_block(x) for x in blocks[-1])):
            blocks.append([])
        blocks[-1].append(m)
    return [b for b in blocks if any(_starts_block(m) for m in b)]


def freeze_d_blocks(d: nn.Module, k: int) -> list[nn.Parameter]:
    """Turn off the gradients of the weights in D's first `k` blocks (family.freeze_d); returns them. Refused
    where D has fewer than k blocks before its head."""
    if k == 0:
        return []
    blocks = d_blocks(d)
    if k > len(blocks):
        raise UserError(f"config key 'family.freeze_d' ({k}) must be at most {len(blocks)}: this D has "
                        f"{len(blocks)} block(s) before its head, which always trains")
    params = [p for block in blocks[:k] for m in block for p in m.parameters()]
    for p in params:
        p.requires_grad_(False)
    return params
