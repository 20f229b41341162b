"""Progressive growing: the schedule in images, the fade-in in G and D, exact resume mid-fade, learning."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data.spec import DataSpec
from ganforge.errors import UserError
from ganforge.families import build_family
from ganforge.nets.progan import resize_real
from ganforge.runs import load_data
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

SMALL = ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "family.max_channels=16",
         "family.images_per_phase=640", "log.tensorboard=false", "eval.every=0"]
SPEC = DataSpec((1, 28, 28), True)


def progan(*sets, spec=SPEC):
    return build_family(load_config("progan-fashion", [*SMALL, *sets]), spec)


def test_schedule_counts_images_with_a_batch_per_level():
    f = progan()  # batches 64, 32, 32: 640 images are 10 steps at level 0, then 20 per phase
    assert f.schedule() == [(0, False, 10), (1, True, 20), (1, False, 20), (2, True, 20)]
    expected = {0: (0, 1.0), 9: (0, 1.0), 10: (1, 0.0), 20: (1, 0.5), 30: (1, 1.0), 50: (2, 0.0), 65: (2, 0.75),
                70: (2, 1.0), 10_000: (2, 1.0)}
    assert {s: f.growth(s) for s in expected} == expected
    assert [f.batch_size(s) for s in (0, 9, 10, 69)] == [64, 64, 32, 32]
    with pytest.raises(UserError, match="one positive batch size per level: 3 for 28x28"):
        progan("family.batch_sizes=[64,32]")


def test_fade_in_blends_the_previous_level_in_g_and_d():
    torch.manual_seed(0)
    f = progan()
    f.eval()
    z = torch.randn(4, 16)
    with torch.no_grad():
        assert [f.G(z, level, 1.0, full_size=False).shape[-1] for level in range(3)] == [7, 14, 28]
        assert f.G(z, 1, 0.5).shape[-1] == 28  # samples: upsampled to the data's size
        old = F.interpolate(f.G(z, 0, 1.0, full_size=False), scale_factor=2, mode="nearest")
        assert torch.allclose(f.G(z, 1, 0.0, full_size=False), old, atol=1e-6)
        new = f.G(z, 1, 1.0, full_size=False)
        assert torch.allclose(f.G(z, 1, 0.25, full_size=False), old + 0.25 * (new - old), atol=1e-6)
        x = torch.randn(4, 1, 28, 28)
        assert torch.allclose(f.D(x, 2, 0.0), f.D(F.avg_pool2d(x, 2), 1, 1.0), atol=1e-5)
        real = resize_real(x, 2, 1, 1.0)
        assert torch.allclose(real, F.avg_pool2d(x, 2))
        # pooling by 2 twice and by 4 once differ by float rounding only
        assert torch.allclose(resize_real(x, 2, 1, 0.0), F.interpolate(F.avg_pool2d(x, 4), scale_factor=2), atol=1e-6)


def test_training_learns_the_mean_image():
    cfg = load_config("progan-fashion", [*SMALL, "train.ema=0"])
    dataset = load_data(cfg)
    trainer = build_trainer(cfg, dataset)
    f = trainer.family
    real_mean = dataset.x[-2000:].float().div(127.5).sub(1).mean(0)

    def distance():
        return (f.generator()(f.noise(1000, torch.Generator().manual_seed(0))).mean(0) - real_mean).norm().item()

    before = distance()
    stats = RunningStats()
    for _ in range(60):
        trainer.train_step(stats)
    assert {"loss_d", "gp", "loss_g"} <= set(stats.read_and_reset())
    after = distance()
    assert after < 0.6 * before, (before, after)
