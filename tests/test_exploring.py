"""Latent-space exploration: paths, truncation, arithmetic and attribute vectors, and `ganforge explore`."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import directions, exploring, viz
from ganforge.cli import main
from ganforge.generator import MixesStyles
from ganforge.latent import lerp, slerp, truncate_normal
from ganforge.metrics.classifier import ClassifierExtractor
from ganforge.metrics.latent import path_jump_ratio, random_direction_like, share_changed_to
from ganforge.projecting import load_code

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


def grid_part(png, rows: int, columns: int, size: int = 28, padding: int = 2, upscale: int = 2) -> np.ndarray:
    """The grid of a labelled gray picture: its bottom-right corner, bands of captions left of it and above."""
    a = np.asarray(Image.open(png))
    h, w = (upscale * (k * (size + padding) + padding) for k in (rows, columns))
    assert a.ndim == 2 and a.shape[0] >= h and a.shape[1] >= w
    return a[-h:, -w:]


def cells(png, rows: int, columns: int, size: int = 28, padding: int = 2, upscale: int = 2) -> np.ndarray:
    """The uint8 images of a saved gray grid, rows x columns x size x size (the upscaling undone)."""
    a = grid_part(png, rows, columns, size, padding, upscale)[::upscale, ::upscale]
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


def ink(a: np.ndarray) -> int:
    """Pixels of caption ink (darker than mid-grey) in a white band of a labelled picture."""
    return int((a < 128).sum())


def captioned(png, rows: int, columns: int, column_captions: bool = True, titled: bool = True) -> tuple[int, int]:
    """Checks that a labelled picture's bands hold a caption beside each grid row, just above each column (where
    it has column captions) and over the row captions (where it has a title); returns the bands' (width, height)."""
    a = np.asarray(Image.open(png))
    grid = grid_part(png, rows, columns)
    left, top = a.shape[1] - grid.shape[1], a.shape[0] - grid.shape[0]
    for r in range(rows):
        assert ink(a[top + 4 + 60 * r : top + 60 * (r + 1), :left]) > 10, f"row {r} has no caption"
    for c in range(columns if column_captions else 0):
        assert ink(a[top - 22 : top, left + 4 + 60 * c : left + 60 * (c + 1)]) > 5, f"column {c} has no caption"
    assert (ink(a[:top, :left]) > 10) == titled
    return left, top


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
    per_row = random_direction_like(torch.tensor([[3.0, 4.0], [0.0, 2.0]]), torch.Generator().manual_seed(0), rows=True)
    assert per_row.norm(dim=1).tolist() == pytest.approx([5.0, 2.0])


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
    assert capsys.readouterr().out.splitlines() == [
        (f"{png}: 2 rows, each from its first seed (left, t=0) to its second (right, t=1) in 6 lerp steps: "
         "0 -> 1, 2 -> 3; interpolate_seeds0-3.gif walks them"), f"wrote {png}", f"wrote {png.with_suffix('.gif')}"]
    left, top = captioned(png, 2, 6)  # 2 rows of 6, each row and column captioned, a title over them
    assert Image.open(png).size == (left + 2 * (6 * 30 + 2), top + 2 * (2 * 30 + 2)) and left > 40
    gif = Image.open(png.with_suffix(".gif"))
    assert gif.n_frames >= 6
    assert main(["explore", "interpolate", str(gan_run), "--seeds", "0", "1", "2", "3", "--steps", "6"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["explore", "interpolate", str(gan_run), "--seeds", "0", "1", "2"]) == 2
    assert "pairs" in capsys.readouterr().err
    assert main(["explore", "interpolate", str(gan_run), "--images", "a.png", "b.png"]) == 2  # projected: read first
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("ganforge explore: error: a.png: not a readable image")
    assert main(["explore", "attribute", str(gan_run), "--attr", "0", "--seeds", "1", "--codes", "x.npz"]) == 2
    assert "give one of --seeds, --codes, not several" in capsys.readouterr().err
    assert main(["explore", "arithmetic", str(gan_run), "--a", "0,1", "--b", "2,3", "--c", "4,5", "--n", "8"]) == 0
    arith = gan_run / "explore" / "arithmetic_seed0.png"
    assert capsys.readouterr().out.splitlines() == [
        (f"{arith}: rows a (0,1), b (2,3), c (4,5): their samples, then the sample of their mean code; right of "
         "'=': a - b + c (middle) and 8 codes within ±0.25 of it; arithmetic_seed0.gif moves from c (t=0) to "
         "a - b + c (t=1)"), f"wrote {arith}", f"wrote {arith.with_suffix('.gif')}"]
    a = np.asarray(Image.open(arith))
    assert a.shape[0] < 2 * (4 * 30 + 2) + 80  # three rows of images tall, not four, with a caption band
    grid = a[-2 * (3 * 30 + 2) :]  # the rows of images: operands (2 samples and a mean each), =, the result's 3
    blank = [(r, x) for r in range(3) for x in range(a.shape[1] - 56)
             if (grid[4 + 60 * r : 60 + 60 * r, x : x + 56] == 0).all()]
    assert not blank  # no empty cell anywhere
    assert main(["explore", "arithmetic", str(gan_run), "--a", "0,99", "--b", "2", "--c", "3", "--n", "8",
                 "--force"]) == 2
    assert "0..7" in capsys.readouterr().err


def test_arithmetic_operands_are_the_numbered_samples(gan_run):
    ex = exploring.Explorer.load(gan_run)
    z, _ = exploring.operand_codes(ex, "3,5", seed=7, n=16, k=3)
    grid = seed_z(ex.g, 7, 16)
    assert torch.equal(z, grid[[3, 5]])


def test_truncation_sweep_table(gan_run, capsys):
    result = exploring.truncation_sweep(gan_run, psis=[1.0, 0.5], n=100, progress=False)
    rows = result["rows"]
    assert [r["psi"] for r in rows] == [None, 1.0, 0.5]
    assert all(0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["fd"] > 0 for r in rows)
    table = json.loads((gan_run / "explore" / "truncation.json").read_text())
    assert table["rows"] == rows
    assert table["protocol"]["truncation"] == "z redrawn where |z| > psi"
    assert Image.open(gan_run / "explore" / "truncation.png").size[0] > 300
    samples = gan_run / "explore" / "truncation_samples.png"
    captioned(samples, 3, 10, column_captions=False)  # a row per psi (none, 1, 0.5), each captioned
    g = ganforge.load(gan_run)
    inputs, _ = g.inputs(100, torch.Generator().manual_seed(0), truncation=0.5)
    assert same(cells(samples, 3, 10)[2], drawn(g, {"z": inputs["z"][:10]}))
    assert capsys.readouterr().out.strip() == (
        f"{samples}: the same 10 samples (seed 0) with no truncation (top row), then at psi 1, 0.5, a row each; "
        "truncation.png: precision, recall and FD against psi")


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
    captioned(written[0], 1, 3)
    with pytest.raises(ganforge.api.UserError, match="actions: interpolate"):
        ganforge.explore("walk", gan_run)
    path = ganforge.sample(gan_run, out=tmp_path / "s.png", n=4, truncation=1.0, numbered=True)
    assert Image.open(path).size[0] == 3 * (2 * 30 + 2)


def test_classes_by_index_name_or_first_word():
    names = ["T-shirt/top", "Trouser", "Ankle boot"]
    assert [directions.class_index(k, names) for k in ("ankle-boot", "t-shirt", "2", "TROUSER", "T-shirt/top")] == [
        2, 0, 2, 1, 0]
    with pytest.raises(exploring.UserError, match="not one of the data's: T-shirt/top, Trouser, Ankle boot"):
        directions.class_index("sock", names)


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


def test_arithmetic_picture_holds_the_operands_their_means_and_the_result_amid_its_neighbours(gan_run, tmp_path):
    g = ganforge.load(gan_run)
    png, gif = exploring.arithmetic(gan_run, "0,1", "2", "3,4,5", seed=7, n=8, out=tmp_path / "a.png")
    z = seed_z(g, 7, 8)
    a, b, c = z[[0, 1]].mean(0, keepdim=True), z[[2]], z[[3, 4, 5]].mean(0, keepdim=True)
    # right of "=": the result in the middle of 8 codes near it (Radford et al.'s uniform noise of +-0.25)
    near = (2 * torch.rand(8, z.shape[1], generator=torch.Generator().manual_seed(7)) - 1) * 0.25
    result = a - b + c + torch.cat([near[:4], torch.zeros(1, z.shape[1]), near[4:]])
    got = cells(png, 3, 3)
    assert same(got.reshape(9, 28, 28), drawn(g, {"z": result}))
    assert same(got[1, 1], drawn(g, {"z": a - b + c})[0])
    # left of it: a row per operand, its samples, then its mean code's (a gap where an operand has fewer)
    operands = [drawn(g, {"z": torch.cat([z[i], z[i].mean(0, keepdim=True)])}) for i in ([0, 1], [2], [3, 4, 5])]
    gap = np.zeros((1, 28, 28), np.uint8)
    rows = [np.concatenate([o[:-1], *[gap] * (4 - len(o)), o[-1:]]) for o in operands]
    expected = viz.grid_image(torch.from_numpy(np.concatenate(rows)[:, None]), nrow=4, upscale=2)
    picture = np.asarray(Image.open(png))
    h, w = expected.height, expected.width
    found = [x for x in range(picture.shape[1] - w) if same(picture[-h:, x : x + w], np.asarray(expected))]
    assert len(found) == 1 and h == 2 * (3 * 30 + 2)  # as tall as the result's block: one band of images
    left = found[0]
    for r in range(3):  # a, - b, + c beside the rows; "mean" above the last column; "=" between the blocks
        assert ink(picture[-h + 60 * r + 4 : -h + 60 * r + 60, :left]) > 10
    band = picture[-h - 22 : -h]  # the column captions' line, under the title
    assert ink(band[:, left + 3 * 60 : left + w]) > 5 and ink(band[:, left : left + 3 * 60]) == 0
    between = picture[-h:, left + w : picture.shape[1] - 2 * (3 * 30 + 2)]
    assert between.shape[1] > 10 and ink(between) > 10
    # the GIF moves c (t=0) to the result (t=1), the same 8 codes around
    frames = Image.open(gif)
    first = np.asarray(frames.convert("L"))[-2 * (3 * 30 + 2) :, -2 * (3 * 30 + 2) :]
    start = viz.grid_image(torch.from_numpy(drawn(g, {"z": result - a + b})[:, None]), nrow=3, upscale=2)
    assert same(first, np.asarray(start))
    frames.seek(9)
    last = np.asarray(frames.convert("L"))[-2 * (3 * 30 + 2) :, -2 * (3 * 30 + 2) :]
    assert same(last, grid_part(png, 3, 3))


def test_attribute_picture_moves_each_row_along_the_vector_by_each_column(gan_run, tmp_path, capsys, monkeypatch):
    g = ganforge.load(gan_run)
    vector = torch.linspace(-1, 1, seed_z(g, 0).shape[1])  # the vector's own reckoning is tested above and per family
    monkeypatch.setattr(exploring, "attribute_vectors", lambda ex, attr, codes: vector.expand_as(codes["z"]))
    png, gif = exploring.attribute(gan_run, "trouser", seeds=[3, 5], strengths=[-1, 0, 2], out=tmp_path / "t.png")
    assert capsys.readouterr().out.strip() == (
        f"{png}: 2 rows (seed 3, seed 5), each moved along the 'trouser' vector by -1, 0, +2 (columns; 0: as "
        "drawn); t.gif sweeps the multiple")
    got = cells(png, 2, 3)
    for row, seed in enumerate((3, 5)):
        z = seed_z(g, seed)
        assert same(got[row], drawn(g, {"z": torch.cat([z - vector, z, z + 2 * vector])})), seed
    captioned(png, 2, 3)
    assert Image.open(gif).n_frames >= 3


def test_style_mixing_cells_take_each_band_from_the_column_source(style_run, tmp_path, capsys):
    g = ganforge.load(style_run)
    assert isinstance(g, MixesStyles)
    [png] = exploring.style_mix(style_run, rows=[0, 1], columns=[2, 3, 4], out=tmp_path / "m.png")
    bands = list(g.style_ranges().values())
    got = cells(png, 1 + len(bands) * 2, 4)
    captioned(png, 1 + len(bands) * 2, 4)  # column sources, then each row seed in each band; the seeds above
    assert capsys.readouterr().out.strip() == (
        f"{png}: top row the column sources (seeds 2, 3, 4), left column the row sources (seeds 0, 1); each other "
        f"cell its row's sample with the {', '.join(g.style_ranges())} styles (a block of rows each) of its column's")
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


# -- real images: projected codes ---------------------------------------------------------------------------------


def projected(run, tmp_path, names: list[str], steps: int = 5) -> list:
    """`ganforge project`'s codes of some of the run's own samples (seed 11) saved as PNGs under `names`."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, x in zip(names, viz.to_uint8(ganforge.load(run).sample(len(names), seed=11))):
        Image.fromarray(x[0].numpy()).save(folder / name)
    ganforge.project(run, folder, out=tmp_path / "codes", steps=steps)
    return [tmp_path / "codes" / name.replace(".png", ".npz") for name in names]


def test_explore_edits_projected_codes_with_the_generators_own_pixels(gan_run, tmp_path, monkeypatch):
    g = ganforge.load(gan_run)
    files = projected(gan_run, tmp_path, ["a.png", "b.png", "c.png"])
    z = torch.cat([load_code(f)[0]["z"] for f in files])
    png, _ = exploring.interpolate(gan_run, codes=[str(f) for f in files[:2]], steps=5, out=tmp_path / "i.png")
    line = torch.stack([z[0] + t * (z[1] - z[0]) for t in (0.0, 0.25, 0.5, 0.75, 1.0)])
    got = cells(png, 1, 5)[0]
    assert same(got, drawn(g, {"z": line}))
    picture = np.asarray(Image.open(tmp_path / "codes" / "a.png"))[::2, ::2]  # the image | its reconstruction
    assert np.array_equal(got[0], picture[2:30, 32:60])  # the path starts at the projection itself
    vector = torch.linspace(-1, 1, z.shape[1])
    monkeypatch.setattr(exploring, "attribute_vectors", lambda ex, attr, codes: vector.expand_as(codes["z"]))
    png, _ = exploring.attribute(gan_run, "trouser", codes=[str(tmp_path / "codes")], strengths=[0, 1],
                                 out=tmp_path / "t.png")
    got = cells(png, 3, 2)  # a row per code of the folder, in name order
    for row in range(3):
        assert same(got[row], drawn(g, {"z": torch.stack([z[row], z[row] + vector])})), row
    png, _ = exploring.arithmetic(gan_run, "0", "1", "2", codes=[str(f) for f in files], out=tmp_path / "a.png")
    assert same(cells(png, 3, 3)[1, 1], drawn(g, {"z": (z[0] - z[1] + z[2])[None]})[0])  # the result, mid-block
    with pytest.raises(ganforge.api.UserError, match="indices must lie in 0..2"):
        exploring.arithmetic(gan_run, "0", "3", "2", codes=[str(f) for f in files], out=tmp_path / "b.png")
    np.savez(tmp_path / "other.npz", z=np.zeros((1, 7), np.float32))
    with pytest.raises(ganforge.api.UserError, match="do not fit this gan run's generator"):
        exploring.interpolate(gan_run, codes=[str(files[0]), str(tmp_path / "other.npz")], out=tmp_path / "x.png")


def test_images_are_projected_on_the_fly_where_there_is_no_encoder(gan_run, tmp_path):
    g = ganforge.load(gan_run)
    x = viz.to_uint8(g.sample(2, seed=4))
    for name, image in zip("ab", x):
        Image.fromarray(image[0].numpy()).save(tmp_path / f"{name}.png")
    png, _ = exploring.interpolate(gan_run, images=[str(tmp_path / "a.png"), str(tmp_path / "b.png")], steps=3,
                                   out=tmp_path / "i.png")
    ends = cells(png, 1, 3)[0, [0, 2]].astype(int)
    assert np.abs(ends - x[:, 0].numpy().astype(int)).max() <= 3  # the run's own samples, found again


def test_stylegan_codes_are_explored_in_w_noise_maps_and_all(style_run, tmp_path):
    g = ganforge.load(style_run)
    files = projected(style_run, tmp_path, ["a.png", "b.png"])
    codes = [load_code(f)[0] for f in files]
    assert set(codes[0]) == {"w", *(f"noise{i}" for i in range(len(g.network().layers)))}
    png, _ = exploring.interpolate(style_run, codes=[str(f) for f in files], steps=3, out=tmp_path / "i.png")
    got = cells(png, 1, 3)[0]
    middle = {k: codes[0][k] + 0.5 * (codes[1][k] - codes[0][k]) for k in codes[0]}
    assert same(got, np.concatenate([drawn(g, codes[0]), drawn(g, middle), drawn(g, codes[1])]))
