"""Latent-space exploration: paths, truncation, arithmetic and attribute vectors, and `ganforge explore`."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import exploring, viz
from ganforge.cli import main
from ganforge.generator import MixesStyles
from ganforge.latent import lerp, slerp, truncate_normal
from ganforge.metrics.classifier import ClassifierExtractor
from ganforge.metrics.latent import path_jump_ratio, random_direction_like, share_changed_to

TINY = ["--quiet", "--steps", "2", "--set", "log.tensorboard=false", "--set", "family.g_width=8", "--set",
        "family.d_width=8", "--set", "train.batch_size=8", "--set", "eval.every=0"]


STYLE = ["--quiet", "--steps", "2", *(a for s in ("log.tensorboard=false", "family.g_width=8", "family.d_width=8",
                                                  "family.z_dim=16", "family.w_dim=16", "family.mapping_layers=2",
                                                  "family.max_channels=16", "train.batch_size=8", "eval.every=0")
                                    for a in ("--set", s))]


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("explore") / "gan"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("explore") / "stylegan"
    assert main(["train", "--config", "stylegan-fashion", "--out", str(run), *STYLE]) == 0
    return run


def cells(png, rows: int, columns: int, size: int = 28, padding: int = 2, upscale: int = 2) -> np.ndarray:
    """The uint8 images of a saved gray grid, rows x columns x size x size (the upscaling undone)."""
    a = np.asarray(Image.open(png))[::upscale, ::upscale]
    assert a.shape == (rows * (size + padding) + padding, columns * (size + padding) + padding)
    step = size + padding
    return np.stack([np.stack([a[padding + r * step : r * step + step, padding + c * step : c * step + step]
                               for c in range(columns)]) for r in range(rows)])


def drawn(g, codes: dict) -> np.ndarray:
    """What the Generator itself draws for `codes`, quantised as the grids are: N x size x size."""
    return viz.to_uint8(g(codes).cpu())[:, 0].numpy()


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to one grey level (a batch of another size may round a value the other way)."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def seed_z(g, seed: int, n: int = 1) -> torch.Tensor:
    return g.noise(n, torch.Generator().manual_seed(seed))["z"]


def test_lerp_and_slerp_by_hand():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(lerp(a, b, t), torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))
    s = slerp(a, b, t)
    h = math.sqrt(0.5)
    assert torch.allclose(s, torch.tensor([[1.0, 0.0], [h, h], [0.0, 1.0]]), atol=1e-6)  # stays on the circle
    long = slerp(a, 3 * b, torch.tensor([0.5]))
    assert long.norm().item() == pytest.approx(2.0)  # the norm moves linearly, 1 -> 3
    assert torch.allclose(slerp(a, 2 * a, t), lerp(a, 2 * a, t))  # parallel: the straight line
    rows = slerp(torch.randn(4, 8), torch.randn(4, 8), t)
    assert rows.shape == (4, 3, 8)


def test_truncation_redraws_only_what_lies_beyond_psi():
    z = torch.tensor([[0.1, -2.5, 0.7, 3.0]])
    out = truncate_normal(z, 1.0, torch.Generator().manual_seed(0))
    assert out.abs().max() <= 1.0
    assert out[0, 0] == z[0, 0] and out[0, 2] == z[0, 2]  # inside: kept
    big = truncate_normal(torch.randn(20000, 4, generator=torch.Generator().manual_seed(1)), 0.5,
                          torch.Generator().manual_seed(2))
    # the normal truncated to [-0.5, 0.5] has variance 1 - 2 a phi(a) / (2 Phi(a) - 1) at a = 0.5
    a = 0.5
    phi, Phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(a / math.sqrt(2)))
    assert big.var().item() == pytest.approx(1 - 2 * a * phi / (2 * Phi - 1), rel=0.03)


def test_jump_ratio_and_edit_shares_by_hand():
    even = torch.arange(5.0).view(1, 5, 1)
    jump = torch.tensor([0.0, 0.0, 0.0, 0.0, 4.0]).view(1, 5, 1)
    assert path_jump_ratio(torch.cat([even, jump])).tolist() == pytest.approx([1.0, 4.0])
    before, after = torch.tensor([0, 1, 2, 2]), torch.tensor([2, 2, 2, 1])
    assert share_changed_to(before, after, 2) == pytest.approx(1.0)  # both of the two not-2 became 2
    assert share_changed_to(before, after, 1) == pytest.approx(1 / 3)  # 0, 2, 2 -> 2, 2, 1: one became 1
    v = torch.tensor([3.0, 4.0])
    d = random_direction_like(v, torch.Generator().manual_seed(0))
    assert d.norm().item() == pytest.approx(5.0)
    assert exploring.apply_attribute(torch.zeros(2, 2), v, [0.0, 2.0]).tolist() == [[0, 0], [6, 8], [0, 0], [6, 8]]


def test_sample_truncation_and_numbered_grid(gan_run, tmp_path, capsys):
    assert main(["sample", str(gan_run), "--truncation", "0.5", "--n", "10"]) == 0
    written = capsys.readouterr().out.split()[-1]
    assert written.endswith("_psi0.5.png") and Image.open(written).size[0] > 50
    plain, numbered = tmp_path / "p.png", tmp_path / "n.png"
    assert main(["sample", str(gan_run), "--n", "4", "--out", str(plain)]) == 0
    assert main(["sample", str(gan_run), "--n", "4", "--out", str(numbered), "--numbered"]) == 0
    a = np.asarray(Image.open(numbered))
    assert a.shape[0] == 3 * (2 * 30 + 2)  # upscaled 3x so the numbers read
    assert main(["sample", str(gan_run), "--truncation", "-1", "--out", str(tmp_path / "x.png")]) == 2
    assert "--truncation must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_truncated_samples_come_from_truncated_codes(gan_run):
    g = ganforge.load(gan_run)
    inputs, _ = g.inputs(200, torch.Generator().manual_seed(0), truncation=0.3)
    assert inputs["z"].abs().max() <= 0.3
    plain, _ = g.inputs(200, torch.Generator().manual_seed(0))
    inside = plain["z"].abs() <= 0.3
    assert torch.equal(inputs["z"][inside], plain["z"][inside])  # the same draw, only the tails redrawn


def test_explore_commands_write_pictures_and_refuse_to_overwrite(gan_run, capsys):
    assert main(["explore", "interpolate", str(gan_run), "--seeds", "0", "1", "2", "3", "--steps", "6"]) == 0
    png = gan_run / "explore" / "interpolate_seeds0-3.png"
    assert Image.open(png).size == (2 * (6 * 30 + 2), 2 * (2 * 30 + 2))  # 2 rows of 6
    gif = Image.open(png.with_suffix(".gif"))
    assert gif.n_frames >= 6
    assert main(["explore", "interpolate", str(gan_run), "--seeds", "0", "1", "2", "3", "--steps", "6"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["explore", "interpolate", str(gan_run), "--seeds", "0", "1", "2"]) == 2
    assert "pairs" in capsys.readouterr().err
    assert main(["explore", "interpolate", str(gan_run), "--images", "a.png", "b.png"]) == 2
    err = capsys.readouterr().err
    assert "--images needs an encoder" in err and "gan family" in err and err.strip().endswith("use --seeds")
    assert main(["explore", "arithmetic", str(gan_run), "--a", "0,1", "--b", "2", "--c", "3,4,5", "--n", "8"]) == 0
    arith = Image.open(gan_run / "explore" / "arithmetic_seed0.png")
    assert arith.size == (2 * (9 * 30 + 2), 2 * (4 * 30 + 2))  # 8 neighbours + the result; 3 operands + result
    assert main(["explore", "arithmetic", str(gan_run), "--a", "0,99", "--b", "2", "--c", "3", "--n", "8",
                 "--force"]) == 2
    assert "0..7" in capsys.readouterr().err


def test_arithmetic_operands_are_the_numbered_samples(gan_run):
    ex = exploring.Explorer.load(gan_run)
    z, _ = exploring.operand_codes(ex, "3,5", seed=7, n=16, k=3)
    grid = seed_z(ex.g, 7, 16)
    assert torch.equal(z, grid[[3, 5]])


def test_truncation_sweep_table(gan_run):
    result = exploring.truncation_sweep(gan_run, psis=[1.0, 0.5], n=100, progress=False)
    rows = result["rows"]
    assert [r["psi"] for r in rows] == [None, 1.0, 0.5]
    assert all(0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["fd"] > 0 for r in rows)
    table = json.loads((gan_run / "explore" / "truncation.json").read_text())
    assert table["rows"] == rows
    assert table["protocol"]["truncation"] == "z redrawn where |z| > psi"
    assert Image.open(gan_run / "explore" / "truncation.png").size[0] > 300


def test_translation_runs_have_no_latent_space(shared, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("fashion-mnist").parent))
    run = tmp_path / "p2p"
    assert main(["train", "--config", "pix2pix-fashion-edges", "--out", str(run), "--quiet", "--steps", "1",
                 "--set", "data.subset=64", "--set", "family.g_width=8", "--set", "family.d_width=8",
                 "--set", "log.tensorboard=false", "--set", "train.batch_size=8"]) == 0
    assert main(["explore", "interpolate", str(run)]) == 2
    assert "no latent space" in capsys.readouterr().err
    assert main(["sample", str(run), "--truncation", "1", "--out", str(tmp_path / "t.png")]) == 2
    assert "come from images" in capsys.readouterr().err


def test_python_api_matches_the_command(gan_run, tmp_path):
    import ganforge

    written = ganforge.explore("interpolate", gan_run, seeds=[4, 5], steps=3, out=tmp_path / "i.png")
    assert written == [tmp_path / "i.png", tmp_path / "i.gif"]
    assert Image.open(written[0]).size == (2 * (3 * 30 + 2), 2 * 32)
    with pytest.raises(ganforge.api.UserError, match="actions: interpolate"):
        ganforge.explore("walk", gan_run)
    path = ganforge.sample(gan_run, out=tmp_path / "s.png", n=4, truncation=1.0, numbered=True)
    assert Image.open(path).size[0] == 3 * (2 * 30 + 2)


def test_classes_by_index_name_or_first_word():
    names = ["T-shirt/top", "Trouser", "Ankle boot"]
    assert [exploring.class_index(k, names) for k in ("ankle-boot", "t-shirt", "2", "TROUSER", "T-shirt/top")] == [
        2, 0, 2, 1, 0]
    with pytest.raises(exploring.UserError, match="not one of the data's: T-shirt/top, Trouser, Ankle boot"):
        exploring.class_index("sock", names)


def test_truncation_sweep_of_a_class_conditional_run_adds_class_accuracy(tmp_path):
    run = tmp_path / "acgan"
    assert main(["train", "--out", str(run), *TINY, "--set", "family.condition=acgan"]) == 0
    result = exploring.truncation_sweep(run, psis=[0.5], n=60, progress=False)
    rows = result["rows"]
    assert all(0 <= r["class_accuracy"] <= 1 for r in rows)
    # by hand: the same seed's samples (every class in turn) read by the Fashion-MNIST classifier
    ex = exploring.Explorer.load(run)
    inputs, _ = ex.g.inputs(60, torch.Generator().manual_seed(0))
    assert torch.equal(inputs["c"].argmax(1), torch.arange(60) % 10)
    judge = ClassifierExtractor("fashion-mnist")
    fake = ex.decode(inputs)
    expected = (judge.logits(fake).argmax(1) == torch.arange(60) % 10).float().mean().item()
    assert rows[0]["class_accuracy"] == pytest.approx(expected)


def test_class_pools_need_a_domain_classifier(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((28, 28), 30 * i, np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(folder), *TINY]) == 0
    assert main(["explore", "attribute", str(run), "--attr", "class:0"]) == 2
    err = capsys.readouterr().err
    assert "no domain classifier" not in err and "--extractor" not in err
    assert f"there is none for folder:{folder}" in err and "give a run trained on one of those" in err


# -- the pictures hold the Generator's own samples for the codes they claim ----------------------------------


def test_interpolation_cells_are_the_samples_along_each_line(gan_run, tmp_path):
    g = ganforge.load(gan_run)
    png, gif = exploring.interpolate(gan_run, seeds=[3, 4, 5, 6], steps=5, out=tmp_path / "i.png")
    got = cells(png, 2, 5)
    for row, (a, b) in enumerate([(3, 4), (5, 6)]):
        za, zb = seed_z(g, a), seed_z(g, b)
        line = torch.cat([za + t * (zb - za) for t in (0.0, 0.25, 0.5, 0.75, 1.0)])
        assert same(got[row], drawn(g, {"z": line})), row
    assert not same(got[0, 2], got[0, 0]) and not same(got[0, 2], got[0, 4])  # the middle is neither end
    assert gif.is_file()


def test_arithmetic_cells_are_the_samples_of_the_mean_codes_and_the_result(gan_run, tmp_path):
    g = ganforge.load(gan_run)
    [png] = exploring.arithmetic(gan_run, "0,1", "2", "3,4,5", seed=7, n=8, out=tmp_path / "a.png")
    got = cells(png, 4, 9)  # 3 operand rows and the result's; 9 columns: the result and its 8 neighbours
    z = seed_z(g, 7, 8)
    a, b, c = z[[0, 1]].mean(0, keepdim=True), z[[2]], z[[3, 4, 5]].mean(0, keepdim=True)
    assert same(got[0, [0, 1, 8]], drawn(g, {"z": torch.cat([z[[0, 1]], a])}))  # the samples, then their mean's
    assert (got[0, 2:8] == 0).all()  # the gap between is left black
    assert same(got[2, [0, 1, 2, 8]], drawn(g, {"z": torch.cat([z[[3, 4, 5]], c])}))
    assert same(got[3, 0], drawn(g, {"z": a - b + c})[0])  # the result, then draws around it
    assert not same(got[3, 0], got[0, 8]) and not same(got[3, 0], got[2, 8])


def test_style_mixing_cells_take_each_band_from_the_column_source(style_run, tmp_path):
    g = ganforge.load(style_run)
    assert isinstance(g, MixesStyles)
    [png] = exploring.style_mix(style_run, rows=[0, 1], columns=[2, 3, 4], out=tmp_path / "m.png")
    bands = list(g.style_ranges().values())
    got = cells(png, 1 + len(bands) * 2, 4)
    assert (got[0, 0] == 0).all()  # the corner is empty
    columns = torch.cat([seed_z(g, s) for s in (2, 3, 4)])
    assert same(got[0, 1:], drawn(g, {"z": columns}))  # the column sources along the top
    column_ws = g.styles({"z": columns})
    for k, (start, stop) in enumerate(bands):
        for i, seed in enumerate((0, 1)):
            row = 1 + 2 * k + i
            assert same(got[row, 0], drawn(g, {"z": seed_z(g, seed)})[0])  # the row source on the left
            mixed = g.styles({"z": seed_z(g, seed)}).repeat(3, 1, 1)
            mixed[:, start:stop] = column_ws[:, start:stop]
            assert same(got[row, 1:], viz.to_uint8(g.synthesize(mixed).cpu())[:, 0].numpy()), (k, i)


def test_a_stylegan_truncation_sweep_says_w_is_pulled_to_its_average(style_run, tmp_path, capsys):
    g = ganforge.load(style_run)
    assert main(["explore", "truncation", str(style_run), "--psi", "0.5", "--n", "40",
                 "--out", str(tmp_path / "t.png")]) == 0
    protocol = json.loads((tmp_path / "t.json").read_text())["protocol"]
    assert protocol["truncation"] == g.truncation_note()
    assert "w_avg" in protocol["truncation"] and "redrawn" not in protocol["truncation"]
