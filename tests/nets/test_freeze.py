"""FreezeD (family.freeze_d): D's first blocks keep a trained run's weights bit for bit while the rest of D and
G train, with DiffAugment on; a setting no D can honour is refused in one line."""

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.families import DataSpec, build_family
from ganforge.nets.freeze import d_blocks
from ganforge.training.loop import train

TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=8", "train.precision=fp32", "eval.every=0",
        "log.tensorboard=false", "log.sample_every=1000"]
MNIST_SHAPE = DataSpec((1, 28, 28), is_image=True, n_classes=10)


def gan(*sets):
    return build_family(load_config(None, [*TINY, "train.init=runs/source", *sets]), MNIST_SHAPE)


def test_blocks_are_weight_layers_with_what_follows_them_and_the_head_is_never_one():
    names = [[type(m).__name__ for m in block] for block in d_blocks(gan().D)]
    assert names == [["Conv2d", "LeakyReLU"], ["Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten"]]
    conditioned = d_blocks(gan("family.condition=projection", "family.minibatch_std=4").D)
    assert [[type(m).__name__ for m in block] for block in conditioned] == names
    assert len(d_blocks(gan("family.arch=mlp").D)) == 2  # 2 hidden layers, then the head
    d = gan("family.freeze_d=2").D
    frozen = {name.split(".")[0] for name, p in d.named_parameters() if not p.requires_grad}
    assert frozen == {"0", "2", "3"} and all(p.requires_grad for p in d[6].parameters())  # conv, conv + BN; head


@pytest.mark.parametrize(("sets", "message"), [
    (["family.freeze_d=3"], "'family.freeze_d' \\(3\\) must be at most 2: this D has 2 block\\(s\\) before"),
    (["family.freeze_d=1", "train.init="], "give that run with train.init"),
    (["family.freeze_d=1", "family.clip=0.01"], "'family.clip' rewrites D's weights after each step"),
    (["family.freeze_d=-1"], "family.freeze_d"),
])
def test_what_freeze_d_cannot_honour_is_refused_in_one_line(sets, message):
    with pytest.raises(UserError, match=message) as e:
        gan(*sets)
    assert "\n" not in str(e.value)


def test_a_family_without_a_discriminator_to_freeze_refuses_the_key():
    with pytest.raises(UserError, match="config key 'family.freeze_d': the aae family does not read it"):
        load_config("aae-mnist", ["family.freeze_d=1"])


def test_the_first_blocks_stay_bit_identical_while_the_rest_trains(tmp_path):
    source = tmp_path / "source"
    train(load_config(None, [*TINY, "train.steps=2"]), source, quiet=True)
    tuned = tmp_path / "tuned"
    train(load_config(None, [*TINY, "train.steps=3", f"train.init={source}", "family.freeze_d=1",
                             "train.augment=diffaugment"]), tuned, quiet=True)
    before, _, _ = load_checkpoint(latest_checkpoint(source))
    after, _, _ = load_checkpoint(latest_checkpoint(tuned))
    for key in ("D.0.weight", "D.0.bias"):  # block 1: the first conv
        assert torch.equal(before[key], after[key]), key
    for key in ("D.2.weight", "D.3.weight", "D.6.weight", "G.0.weight"):  # block 2, the head, G
        assert not torch.equal(before[key], after[key]), key
