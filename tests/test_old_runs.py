"""Run folders written by earlier ganforge still resume, sample and evaluate: tests/fixtures/run-0.1-toy (a 4-step
toy-ring run with EMA, made by ganforge 0.1's fixed D/G loop) and tests/fixtures/run-0.1-gan-keys (a 4-step
toy-ring GAN with EMA written before each family owned its settings, its GAN settings off their defaults in
model:, loss: and train:: z_dim 3, MLPs of 16-16, spectral norm in D, the hinge objective, 2 D steps)."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from ganforge.cli import main
from ganforge.evaluating import evaluate_run
from ganforge.runs import continue_config, load_generator, read_config
from ganforge.training.loop import train

FIXTURE = Path(__file__).parent / "fixtures" / "run-0.1-toy"
GAN_KEYS = Path(__file__).parent / "fixtures" / "run-0.1-gan-keys"
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
def test_an_old_run_resumes_to_the_same_weights_as_before(weights_digest, require_digest, old_run, one_thread):
    train(continue_config(old_run, ["train.steps=8"]), old_run, resume=True, quiet=True)
    require_digest(weights_digest(old_run / "checkpoints" / "step_000008"), DIGESTS_AT_8)


def test_an_old_run_samples_and_evaluates(old_run, capsys):
    assert main(["sample", str(old_run), "--out", str(old_run / "s.png")]) == 0
    assert Image.open(old_run / "s.png").size[0] > 100
    result = evaluate_run(old_run, progress=False)
    assert result["values"]["n_samples"] == 2500 and 0 <= result["values"]["high_quality"] <= 1


# -- a run with the GAN's settings in the shared sections of before ------------------------------------------

# what the code of before gave for this folder: load_generator(run).sample(4, seed=0) and d_prob at two points
SAMPLES_AT_4 = [[-0.04306785762310028, -0.19741153717041016], [-0.034536212682724, -0.10168708860874176],
                [-0.1316908299922943, -0.05227215960621834], [-0.1688261777162552, 0.04964442923665047]]
D_AT_4 = [0.11790172755718231, 0.055992305278778076]  # the hinge critic's raw outputs at (1, 0) and (0, 0)
# the sha256 of the weights after resuming to step 8 (one thread) with the code of before, per CPU arithmetic
GAN_KEYS_AT_8 = {"cfd6bf87857e1d042c7ce5c1a1be2f4ca8b7eea6193f79f20613dbd99f8bada2": "cd39bc393ff25817"}  # AMD EPYC, AVX-512


@pytest.fixture
def gan_keys(tmp_path):
    run = tmp_path / "gan-keys"
    shutil.copytree(GAN_KEYS, run)
    return run


def test_the_settings_of_before_are_read_in_their_new_place(gan_keys):
    saved = yaml.safe_load((gan_keys / "config.yaml").read_text())
    assert saved["loss"]["objective"] == "hinge" and saved["model"]["spectral_norm"] == "d"  # written the old way
    cfg = read_config(gan_keys)
    f = cfg.family
    assert (f["z_dim"], f["g_hidden"], f["d_hidden"], f["spectral_norm"], f["objective"], f["d_steps"]) == (
        3, [16, 16], [16, 16], "d", "hinge", 2)
    assert f["g_loss"] == "nonsaturating" and f["arch"] == "mlp" and cfg.train.ema == 0.9


def test_an_old_gan_run_samples_as_it_did(gan_keys):
    g = load_generator(gan_keys, device="cpu")
    assert g.step == 4
    torch.testing.assert_close(g.sample(4, seed=0), torch.tensor(SAMPLES_AT_4), rtol=0, atol=1e-5)
    torch.testing.assert_close(g.d_prob(torch.tensor([[1.0, 0.0], [0.0, 0.0]])), torch.tensor(D_AT_4), rtol=0,
                               atol=1e-5)
    assert main(["sample", str(gan_keys), "--out", str(gan_keys / "s.png")]) == 0
    assert Image.open(gan_keys / "s.png").size[0] > 100


def test_an_old_gan_run_resumes_and_rewrites_its_config_the_new_way(weights_digest, require_digest, gan_keys,
                                                                    one_thread):
    train(continue_config(gan_keys, ["train.steps=8"]), gan_keys, resume=True, quiet=True)
    written = yaml.safe_load((gan_keys / "config.yaml").read_text())
    assert "loss" not in written and written["model"] == {"family": "gan"}
    assert written["family"]["objective"] == "hinge" and written["family"]["d_steps"] == 2
    assert read_config(gan_keys).family == read_config(GAN_KEYS).family
    if torch.__version__.startswith("2.13.0"):
        require_digest(weights_digest(gan_keys / "checkpoints" / "step_000008"), GAN_KEYS_AT_8)
