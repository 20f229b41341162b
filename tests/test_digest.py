"""The reference recipe trains bit for bit as it always has: the sha256 of every weight after 20 steps on a CPU
with one thread (torch 2.13.0), recorded before the family contract replaced the fixed D/G loop."""

import hashlib

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import load_config
from ganforge.training.checkpoint import latest_checkpoint
from ganforge.training.loop import train

DIGEST_20_STEPS = "b592200974b4b516492558228c76beb5d47e8ce4b472942c16939734c493bd78"


def weights_digest(path) -> str:
    tensors = load_file(str(path / "model.safetensors"))
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(tensors[key].contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the digest depends on how the convolutions split their sums over threads
    yield
    torch.set_num_threads(before)


@pytest.mark.skipif(not torch.__version__.startswith("2.13.0"), reason="the digest was recorded with torch 2.13.0")
def test_reference_recipe_trains_bit_for_bit_as_before(tmp_path, one_thread):
    cfg = load_config("dcgan-fashion-10k", ["train.steps=20", "eval.every=0", "log.checkpoint_every=20",
                                            "log.sample_every=10", "log.every=5"])
    train(cfg, tmp_path / "run", quiet=True)
    assert weights_digest(latest_checkpoint(tmp_path / "run")) == DIGEST_20_STEPS
