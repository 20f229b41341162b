"""The style-based generator: modulated convolutions against their definition, style mixing, truncation
towards w_avg, lazy R1, and training end to end."""

import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.spec import DataSpec
from ganforge.errors import UserError
from ganforge.families import build_family
from ganforge.nets.equalized import act
from ganforge.nets.stylegan import ModulatedConv2d, ResidualBlock, StyleGenerator, plan
from ganforge.runs import load_data, load_family
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer
from ganforge.training.optim import group_parameters, make_optimizer
from ganforge.training.resident import ResidentData
from ganforge.training.trainer import Trainer

SMALL = ["family.g_width=8", "family.d_width=8", "family.z_dim=16", "family.w_dim=16", "family.mapping_layers=2",
         "family.max_channels=16", "train.batch_size=8", "log.tensorboard=false", "eval.every=0"]
SPEC = DataSpec((1, 28, 28), True, n_classes=10, class_names=tuple("abcdefghij"))


def stylegan(*sets, spec=SPEC):
    return build_family(load_config("stylegan-fashion", [*SMALL, *sets]), spec)


@pytest.mark.parametrize("demodulate, up", [(True, False), (False, False), (True, True)])
def test_modulated_convolution_equals_per_sample_weights(demodulate, up):
    torch.manual_seed(0)
    conv = ModulatedConv2d(3, 5, 3, w_dim=4, demodulate=demodulate, up=up)
    x, w = torch.randn(2, 3, 6, 6), torch.randn(2, 4)
    out = conv(x, w)
    for i in range(2):  # the definition: each sample convolved with its own modulated (and demodulated) weights
        weight = conv.weight * conv.scale * conv.affine(w[i : i + 1]).view(1, 3, 1, 1)
        if demodulate:
            weight = weight / (weight.pow(2).sum((1, 2, 3), keepdim=True) + 1e-8).sqrt()
        xi = F.interpolate(x[i : i + 1], scale_factor=2, mode="bilinear", align_corners=False) if up else x[i : i + 1]
        assert torch.allclose(out[i : i + 1], F.conv2d(xi, weight, padding=1), atol=1e-5)
    assert out.shape == (2, 5, 12 if up else 6, 12 if up else 6)


def test_residual_block_equals_its_definition():
    """Both paths halved by average pooling and summed, scaled by 1/sqrt(2) (StyleGAN2's resnet D)."""
    torch.manual_seed(0)
    block = ResidualBlock(3, 5)
    x = torch.randn(2, 3, 8, 8)
    main_path = act(block.conv2(act(block.conv1(x))))
    expected = (F.avg_pool2d(main_path, 2) + F.avg_pool2d(block.skip(x), 2)) / math.sqrt(2)
    assert torch.allclose(block(x), expected, atol=1e-6) and block(x).shape == (2, 5, 4, 4)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_and_one_training_step_at_each_size(size):
    spec = DataSpec((3, size, size), True)
    cfg = load_config("stylegan-fashion", [*SMALL, "data.name=fashion-mnist-10k"])
    f = build_family(cfg, spec)
    z = torch.randn(4, 16)
    assert f.G(z).shape == (4, 3, size, size) and f.D(f.G(z)).shape == (4,)
    first, doublings = plan(size)
    assert f.G.n_styles == 2 * doublings + 2 and first * 2**doublings == size
    # one iteration of the loop on images of this size: D, R1 (due at step 0) and G each step their weights
    images = torch.randint(0, 256, (16, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    optimizers = {name: make_optimizer(cfg.optim.group(name), group_parameters(nets)) for name, nets in f.groups().items()}
    trainer = Trainer(cfg, f, optimizers, ResidentData(images, None, torch.device("cpu"), seed=0),
                      torch.Generator().manual_seed(1), torch.device("cpu"), phases=f.phases())
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in f.networks.items()}
    stats = RunningStats()
    trainer.train_step(stats)
    values = stats.read_and_reset()
    assert {"loss_d", "r1", "loss_g"} <= set(values) and all(math.isfinite(v) for v in values.values())
    for name, net in f.networks.items():
        kept = [k for (k, p), a in zip(net.named_parameters(), before[name]) if torch.equal(a, p)]
        assert kept == [], (name, kept)
    assert trainer.step == 1 and trainer.images_seen == cfg.train.batch_size


def test_sizes_the_synthesis_cannot_make_are_refused():
    with pytest.raises(UserError, match="28x28 images or a power of two"):
        stylegan(spec=DataSpec((1, 48, 48), True))


def test_style_mixing_takes_the_second_codes_styles_from_the_cut():
    torch.manual_seed(0)
    g = StyleGenerator((1, 28, 28), 8, 8, 2, 4, 8).eval()
    z, z2 = torch.randn(2, 8), torch.randn(2, 8)
    assert torch.equal(g(z, z2, g.n_styles), g(z))  # a cut past the last style changes nothing
    assert torch.allclose(g(z, z2, 0), g(z2), atol=1e-6)  # a cut at 0 is the second code's image
    ws = g.mapping(z).unsqueeze(1).repeat(1, g.n_styles, 1)
    ws[:, 3:] = g.mapping(z2).unsqueeze(1)
    assert torch.allclose(g(z, z2, 3), g.synthesis(ws), atol=1e-6)
    assert torch.equal(g.w_avg, torch.zeros(8))  # untouched unless asked
    image = g(z, z2, 3, w_avg_beta=0.75)
    assert torch.equal(image, g(z, z2, 3)) and torch.allclose(g.w_avg, 0.25 * g.mapping(z).mean(0), atol=1e-6)


def test_truncation_pulls_w_to_its_average():
    f = stylegan().eval()
    f.G.w_avg.copy_(torch.randn(16))
    gen = torch.Generator().manual_seed(0)
    inputs, _ = f.sample_inputs(4, gen, truncation=0.0)
    images = f.decode(inputs)
    assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)  # psi 0: the average image
    plain, _ = f.sample_inputs(4, torch.Generator().manual_seed(0))
    same, _ = f.sample_inputs(4, torch.Generator().manual_seed(0), truncation=1.0)
    assert torch.allclose(f.decode(plain), f.decode(same), atol=1e-6)  # psi 1: untouched
    half, _ = f.sample_inputs(4, torch.Generator().manual_seed(0), truncation=0.5)
    w, w_half = f.styles(plain), f.styles(half)
    assert torch.allclose(w_half, 0.5 * (w + f.G.w_avg), atol=1e-5)
    with pytest.raises(UserError, match="psi in w = w_avg"):
        f.sample_inputs(4, gen, truncation=-1.0)


def test_training_tracks_w_avg_runs_lazy_r1_and_learns():
    cfg = load_config("stylegan-fashion", [*SMALL, "family.r1_every=4", "family.w_avg_beta=0.8", "train.ema=0"])
    dataset = load_data(cfg)
    trainer = build_trainer(cfg, dataset)
    f = trainer.family
    assert [(p.name, p.every) for p in f.phases()] == [("D", 1), ("R1", 4), ("G", 1)]
    real_mean = dataset.x[-2000:].float().div(127.5).sub(1).mean(0)

    def distance_to_the_mean_image():
        return (f.generator()(f.noise(1000, torch.Generator().manual_seed(0))).mean(0) - real_mean).norm().item()

    before = distance_to_the_mean_image()
    stats = RunningStats()
    for _ in range(100):
        trainer.train_step(stats)
    values = stats.read_and_reset()
    assert {"loss_d", "loss_g", "r1"} <= set(values) and values["r1"] > 0
    after = distance_to_the_mean_image()
    assert after < 0.6 * before, (before, after)  # 13.2 -> 6.0 when written
    with torch.no_grad():
        mean_w = f.G.mapping(torch.randn(4000, 16, generator=torch.Generator().manual_seed(0))).mean(0)
    assert (f.G.w_avg - mean_w).norm() < 0.25 * mean_w.norm()  # tracked (it starts at 0)


def test_train_sample_explore_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "stylegan-fashion", "--out", str(run), "--steps", "3", "--quiet",
                 *[f"--set={s}" for s in SMALL]]) == 0
    family, _, step = load_family(run)
    assert step == 3 and family.latent_kind() == "w"
    assert main(["sample", str(run), "--truncation", "0.7", "--n", "8"]) == 0
    assert capsys.readouterr().out.strip().endswith("_psi0.7.png")
    a = main(["sample", str(run), "--truncation", "0.7", "--n", "8", "--out", str(tmp_path / "a.npz")])
    b = main(["sample", str(run), "--truncation", "0.7", "--n", "8", "--out", str(tmp_path / "b.npz")])
    import numpy as np
    assert a == b == 0 and np.array_equal(np.load(tmp_path / "a.npz")["x"], np.load(tmp_path / "b.npz")["x"])
    assert main(["explore", "interpolate", str(run), "--seeds", "0", "1", "--steps", "4"]) == 0
    width, height = Image.open(run / "explore" / "interpolate_seeds0-1.png").size  # a row of 4, and captions
    assert width > 2 * (4 * 30 + 2) and height > 2 * 32
    assert main(["explore", "mix", str(run), "--rows", "0", "1", "--columns", "2", "3", "4"]) == 0
    assert Image.open(run / "explore" / "mix.png").size[0] > 100
