"""The growing, style-based and BigGAN-style networks at the sizes GPU users train: shapes and one step."""

import pytest
import torch

from ganforge.config import load_config
from ganforge.data.registry import Dataset
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

TINY = {
    "progan-fashion": ["family.g_width=2", "family.d_width=2", "family.max_channels=8", "family.images_per_phase=1",
                       "family.batch_sizes=[]"],
    "stylegan-fashion": ["family.g_width=2", "family.d_width=2", "family.max_channels=8", "family.w_dim=8",
                         "family.mapping_layers=2", "family.r1_every=1"],
    "biggan-fashion": ["family.arch=dcgan", "family.g_width=2", "family.d_width=2", "family.attention=16"],
}


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("preset", list(TINY))
def test_one_training_step_at_gpu_sizes(preset, size):
    x = torch.randint(0, 256, (8, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = Dataset(name=f"random-{size}", kind="image", x=x, y=torch.arange(8) % 2, class_names=["a", "b"],
                   source="generated")
    cfg = load_config(preset, [*TINY[preset], "train.batch_size=4", "eval.every=0", "log.tensorboard=false"])
    trainer = build_trainer(cfg, data)
    stats = RunningStats()
    for _ in range(1 + 2 * getattr(trainer.family, "levels", 0) if preset.startswith("progan") else 1):
        trainer.train_step(stats)  # progan: through every level to the last
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.read_and_reset().values())
    f = trainer.family
    f.eval()
    with torch.no_grad():
        inputs = f.noise(2, torch.Generator().manual_seed(0))
        if f.conditional:
            inputs["c"] = torch.eye(2)[[0, 1]]
        assert f.decode(inputs).shape == (2, 3, size, size)
    if preset.startswith("progan"):
        assert f.growth(10**6) == (f.levels, 1.0) and f.G.growth.tolist() == [float(f.levels), 1.0]
