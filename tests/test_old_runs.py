"""Run folders written by ganforge before the family contract (tests/fixtures/run-0.1-toy: a 4-step toy-ring run
with EMA, made by ganforge 0.1's fixed D/G loop) still resume, sample and evaluate."""

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.metrics.evaluate import evaluate_run
from ganforge.runs import continue_config
from ganforge.training.loop import train
from test_digest import require_digest, weights_digest

FIXTURE = Path(__file__).parent / "fixtures" / "run-0.1-toy"
# ganforge 0.1 resumed this folder to step 8 (one thread) and wrote weights with these sha256s, one per CPU
# arithmetic (see test_digest.py): value = that machine's arithmetic fingerprint, where recorded
DIGESTS_AT_8 = {
    "69825c508ea93e90f84fe5e8328e71952afd8ab03f7f1f9a717387178ca93896": None,
    "e3f8b38c0329f05c340408a47f992326632e27d9d1f28ce36f16dd50838c614a": "cd39bc393ff25817",  # AMD EPYC, AVX-512; commit 5ffed12
}


@pytest.fixture
def old_run(tmp_path):
    run = tmp_path / "old"
    shutil.copytree(FIXTURE, run)
    return run


@pytest.mark.skipif(not torch.__version__.startswith("2.13.0"), reason="the digest was recorded with torch 2.13.0")
def test_an_old_run_resumes_to_the_same_weights_as_before(old_run):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(continue_config(old_run, ["train.steps=8"]), old_run, resume=True, quiet=True)
    finally:
        torch.set_num_threads(before)
    require_digest(weights_digest(old_run / "checkpoints" / "step_000008"), DIGESTS_AT_8)


def test_an_old_run_samples_and_evaluates(old_run, capsys):
    assert main(["sample", str(old_run), "--out", str(old_run / "s.png")]) == 0
    assert Image.open(old_run / "s.png").size[0] > 100
    result = evaluate_run(old_run, progress=False)
    assert result["values"]["n_samples"] == 2500 and 0 <= result["values"]["high_quality"] <= 1
