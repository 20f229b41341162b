"""Projection (GAN inversion): ganforge.projection on tiny runs of each kind, and `ganforge project`'s files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import viz
from ganforge.cli import main
from ganforge.errors import UserError
from ganforge.projecting import load_code
from ganforge.projection import learning_rate, project

SETS = ["log.tensorboard=false", "train.batch_size=8", "eval.every=0"]
NARROW = ["family.g_width=8", "family.d_width=8"]
STYLE = [*NARROW, "family.z_dim=16", "family.w_dim=16", "family.mapping_layers=2", "family.max_channels=16"]


def train(folder, *argv, sets=NARROW):
    assert main(["train", "--out", str(folder), "--quiet", "--steps", "2", *argv,
                 *(a for s in (*SETS, *sets) for a in ("--set", s))]) == 0
    return folder


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("project") / "gan")


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("project") / "cgan", sets=[*NARROW, "family.condition=cgan"])


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("project") / "style", "--config", "stylegan-fashion", sets=STYLE)


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).pow(2).mean())


def save_images(folder, images: torch.Tensor, names: list[str]) -> list:
    """uint8 PNGs of images in [-1, 1] (gray), named."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, x in zip(names, viz.to_uint8(images)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[0].numpy()).save(folder / name)
        paths.append(folder / name)
    return paths


def pair(png) -> np.ndarray:
    """The two 28x28 cells (image, reconstruction) of a projection's picture: padding 2, drawn twice as large."""
    a = np.asarray(Image.open(png))[::2, ::2]
    assert a.shape == (32, 62)
    return np.stack([a[2:30, 2:30], a[2:30, 32:60]])


def test_learning_rate_ramps_up_then_down_on_a_cosine():
    assert learning_rate(0.0) == 0.0 and learning_rate(0.025) == pytest.approx(0.05)
    assert learning_rate(0.05) == learning_rate(0.5) == learning_rate(0.75) == pytest.approx(0.1)
    assert learning_rate(0.875) == pytest.approx(0.05) and learning_rate(1.0) == pytest.approx(0.0)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_sample_of_the_run_is_found_again(gan_run, precision):
    g = ganforge.load(gan_run, device="cpu")
    x = g.sample(4, seed=123)
    start, found = project(g, x, steps=0), project(g, x, precision=precision)
    assert mse(start.images, x) > 1e-3  # the nearest of the pool is not the sample
    assert mse(found.images, x) < 1e-4 and mse(found.images, x) < mse(start.images, x) / 100
    assert found.codes["z"].shape == (4, g.family.z_dim) and found.distance.shape == (4,)
    assert found.weights == {"pixels": 1.0, "critic": 0.1, "classifier": 0.1}  # the D and the classifier measured
    assert found.precision == precision and found.codes["z"].dtype == torch.float32
    assert torch.equal(found.images, g(found.codes))  # drawn in fp32 from the codes, whatever the arithmetic
    with pytest.raises(UserError, match="give auto, fp32, bf16 or fp16"):
        project(g, x, precision="fp8")


def test_a_busy_cpu_is_shared(monkeypatch, capsys):
    from ganforge import cpu_share, projecting

    chosen = []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    monkeypatch.setattr(cpu_share, "other_busy_cores", lambda window_s=None: 1.2)
    projecting.share_cpu("cpu")
    assert chosen == [3] and capsys.readouterr().out == (
        "note: the machine is busy (other work keeps 1.2 of its 4 cores busy): projecting on 3 of them\n")
    monkeypatch.setattr(cpu_share, "other_busy_cores", lambda window_s=None: 0.1)  # idle: every core, no note
    projecting.share_cpu("cpu")
    assert chosen == [3] and capsys.readouterr().out == ""


def test_project_writes_each_code_and_picture_and_the_code_redraws_the_picture(gan_run, tmp_path, capsys):
    g = ganforge.load(gan_run, device="cpu")
    x = g.sample(3, seed=7)
    inputs = save_images(tmp_path / "mine", x, ["a.png", "b.v2.png", "sub/c.png"])
    assert main(["project", str(gan_run), "--input", str(tmp_path / "mine"), "--steps", "12", "--gif"]) == 0
    out = gan_run / "projected" / "mine"
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == (f"wrote 3 codes (.npz), images beside their reconstructions (.png) and GIFs under "
                           f"{out}/")
    assert printed[-2].startswith("3 images projected into z in gan run at step 2: PSNR ")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "a.gif", "a.npz", "a.png", "b.v2.gif", "b.v2.npz", "b.v2.png", "sub", "sub/c.gif", "sub/c.npz", "sub/c.png"]
    for name, path in zip(("a", "b.v2", "sub/c"), inputs):
        codes, about = load_code(out / f"{name}.npz")
        assert set(codes) == {"z"} and codes["z"].shape == (1, g.family.z_dim)
        assert about["input"] == path.name and about["space"] == "z" and about["steps"] == 12
        image, reconstruction = pair(out / f"{name}.png")
        assert np.array_equal(image, np.asarray(Image.open(path)))
        assert np.array_equal(reconstruction, viz.to_uint8(g(codes))[0, 0].numpy())  # the code draws it exactly
        assert Image.open(out / f"{name}.gif").n_frames > 2
    with np.load(out / "a.npz", allow_pickle=False) as f:  # plain arrays: no pickle to load
        assert json.loads(str(f["about"]))["family"] == "gan"
    # the Python API writes the same files (into another folder)
    written = ganforge.project(gan_run, inputs[0], out=tmp_path / "api", steps=3)
    assert written == [tmp_path / "api" / "a.npz", tmp_path / "api" / "a.png"]


def test_a_bad_image_is_refused_in_one_line_and_nothing_is_written(gan_run, tmp_path, capsys):
    folder = tmp_path / "in"
    save_images(folder, torch.zeros(2, 1, 28, 28), ["a.png", "b.png"])
    (folder / "broken.png").write_bytes(b"not an image")
    assert main(["project", str(gan_run), "--input", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "broken.png: not a readable image" in err
    assert not (tmp_path / "out").exists()
    for argv, said in ((["--input", str(tmp_path / "none")], "no such file or folder"),
                       (["--input", str(folder / "a.png"), "--class", "3"], "--class needs a conditional run"),
                       (["--input", str(folder / "a.png"), "--distance", "pixels=x"], "NAME=WEIGHT"),
                       (["--input", str(folder / "a.png"), "--space", "w"], "projects into z")):
        assert main(["project", str(gan_run), "--out", str(tmp_path / "out"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and said in err, argv
        assert not (tmp_path / "out").exists()


def test_existing_outputs_are_kept_unless_forced(gan_run, tmp_path, capsys):
    image = save_images(tmp_path / "in", ganforge.load(gan_run).sample(1, seed=3), ["a.png"])[0]
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    argv = ["project", str(gan_run), "--input", str(image), "--out", str(out), "--steps", "4"]
    assert main(argv) == 0
    before = (out / "a.npz").read_bytes()
    assert main([*argv, "--seed", "1"]) == 2
    assert "a.npz exists" in capsys.readouterr().err and (out / "a.npz").read_bytes() == before
    assert main([*argv, "--seed", "1", "--force"]) == 0
    assert (out / "a.npz").read_bytes() != before and (out / "mine.txt").read_text() == "kept"
    assert main(["project", str(gan_run), "--input", str(image), "--out", str(image.parent)]) == 2
    assert "where the inputs are" in capsys.readouterr().err


@pytest.mark.parametrize("space", ["w", "w+"])
def test_stylegan_projects_in_w_or_w_plus_with_its_noise_maps(style_run, space):
    g = ganforge.load(style_run, device="cpu")
    x = g.sample(2, seed=9)
    start, found = project(g, x, steps=0, space=space), project(g, x, space=space)
    net = g.network()
    shape = (2, net.n_styles, net.w_dim) if space == "w+" else (2, net.w_dim)
    assert found.codes["w"].shape == shape and found.space == space
    assert torch.allclose(start.codes["w"], net.w_avg.expand(shape))  # the start: the average w
    for i, layer in enumerate(net.layers):  # each layer's noise map moved, and kept white noise
        noise = found.codes[f"noise{i}"]
        assert noise.shape == (2, *layer.fixed_noise.shape[1:]) and not torch.equal(noise[:1], layer.fixed_noise)
        assert noise.mean().abs() < 1e-4 and noise.pow(2).mean() == pytest.approx(1.0, abs=1e-3)
    assert mse(found.images, x) < mse(start.images, x) / 4
    assert torch.equal(found.images, g(found.codes))


def test_stylegan_refuses_a_space_it_does_not_project_into(style_run, tmp_path, capsys):
    image = save_images(tmp_path, torch.zeros(1, 1, 28, 28), ["a.png"])[0]
    assert main(["project", str(style_run), "--input", str(image), "--space", "z"]) == 2
    assert "projects into w or w+" in capsys.readouterr().err


@pytest.mark.parametrize("preset,sets", [("vaegan-fashion", [*NARROW, "family.z_dim=16"]),
                                         ("aae-mnist", ["family.hidden=[16]", "data.holdout=0"])])
def test_autoencoders_start_from_their_encoders_code(tmp_path, preset, sets):
    run = train(tmp_path / "run", "--config", preset, "--data", "fashion-mnist-10k", sets=sets)
    g = ganforge.load(run, device="cpu")
    x = g.sample(3, seed=1).mul(0.8)  # not quite the decoder's own images
    start, found = project(g, x, steps=0), project(g, x, steps=30)
    assert torch.equal(start.codes["z"], g.encode(x).cpu())
    assert torch.allclose(start.images, g.reconstruct(x), atol=1e-6)
    assert (found.distance < start.distance).all()  # refined: nearer in pixels and features together
    in_pixels = project(g, x, steps=30, weights="critic=0,classifier=0")
    assert mse(in_pixels.images, x) < mse(start.images, x) / 2
    assert found.weights["critic"] == (0.1 if preset == "vaegan-fashion" else 0.0)  # the aae's D judges codes
    with pytest.raises(UserError, match="starts from its own code"):
        project(g, x, options={"class": "1"})


@pytest.mark.parametrize("argv,sets", [
    (["--config", "progan-fashion"], [*NARROW, "family.batch_sizes=[8,8,8]", "family.max_channels=16"]),
    (["--config", "biggan-fashion", "--data", "fashion-mnist-10k"], NARROW)])
def test_progan_and_biggan_runs_come_nearer_their_own_samples(tmp_path, argv, sets):
    g = ganforge.load(train(tmp_path / "run", *argv, sets=sets), device="cpu")
    x = g.sample(2, seed=3)
    start, found = project(g, x, steps=0), project(g, x, steps=60)
    assert found.weights["critic"] > 0 and (found.distance < start.distance / 2).all()
    assert torch.equal(found.images, g(found.codes))


def test_a_conditional_run_takes_the_class_given_or_finds_it(cgan_run):
    g = ganforge.load(cgan_run, device="cpu")
    labels = torch.tensor([1, 3, 7])
    x = g(g.for_labels(g.noise(3, torch.Generator().manual_seed(5)), labels))
    # every class tried: only the images' own class draws them exactly
    found = project(g, x, steps=150, weights="critic=0,classifier=0", tries=10)
    assert found.codes["c"].argmax(1).tolist() == [1, 3, 7] and found.distance.max() < 1e-6
    given = project(g, x, steps=5, options={"class": "Coat"})
    assert given.codes["c"].argmax(1).tolist() == [4, 4, 4]
    default = project(g, x, steps=5)  # three classes tried per image, the nearest samples'
    assert default.codes["c"].sum(1).tolist() == [1.0, 1.0, 1.0]
