"""The reference recipe trains bit for bit as it always has: the sha256 of every weight after 20 steps on a CPU
with one thread (torch 2.13.0), recorded before the family contract replaced the fixed D/G loop.

The figure depends on the CPU's kernels as well as on ganforge (oneDNN and ATen pick AVX2 or AVX-512 code
that rounds differently), so a digest is kept per machine, each recorded with the code of before the change.
A machine is known by the digest of a few plain torch convolutions (no ganforge code): on a machine whose
arithmetic was never recorded the test skips and prints what to record."""

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint
from ganforge.config import load_config
from ganforge.training.loop import train

DIGESTS_20_STEPS = {
    # the machine the digest was first recorded on (its arithmetic fingerprint was not recorded)
    "b592200974b4b516492558228c76beb5d47e8ce4b472942c16939734c493bd78": None,
    # AMD EPYC, AVX-512 (ATen AVX512, oneDNN avx512_core): recorded with the code of commit 5ffed12
    "a6bc6a337bba8d9a9ac558d3ff6ac0850e89748d6e8e97851964501480eedb32": "cd39bc393ff25817",
}


@pytest.mark.skipif(not torch.__version__.startswith("2.13.0"), reason="the digest was recorded with torch 2.13.0")
def test_reference_recipe_trains_bit_for_bit_as_before(tmp_path, one_thread, weights_digest, require_digest):
    cfg = load_config("dcgan-fashion-10k", ["train.precision=fp32", "train.steps=20", "eval.every=0",
                                            "log.checkpoint_every=20",
                                            "log.sample_every=10", "log.every=5"])
    train(cfg, tmp_path / "run", quiet=True)  # fp32 as recorded (auto is bf16 on a CPU with bf16 units)
    require_digest(weights_digest(latest_checkpoint(tmp_path / "run")), DIGESTS_20_STEPS)
