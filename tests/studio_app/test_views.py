"""The studio's views against the Generator's own output: each view's picture holds what the generator draws for
those parameters, pixel for pixel, and the command line and Python call it names draw the same thing."""

import io
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import directions, exploring, viz
from ganforge.cli import main
from ganforge.errors import UserError
from ganforge.explorer import Explorer
from ganforge.latent import lerp
from ganforge.studio_app import views
from ganforge.translating import translate_image

from .conftest import drawn, pixels


def test_the_sample_is_g_sample_for_its_seed_and_psi_and_its_command_draws_it(runs, generator, tmp_path):
    g, run = generator("gan"), str(runs("gan"))
    shown = {}
    for seed, psi in [(0, None), (1, None), (1, 0.5), (7, 1.5)]:
        picture = views.sample(g, run, seed, psi)
        assert picture.kind == "png"
        expected = drawn(g.sample(1, seed, truncation=psi)[0])
        assert np.array_equal(pixels(picture.data), expected)
        shown[seed, psi] = pixels(picture.data)
        # the command line, given an .npz to write, draws the same pixels; the Python call returns them
        out = tmp_path / f"{seed}-{psi}.npz"
        assert main([*shlex.split(picture.command)[1:], "--out", str(out)]) == 0
        assert np.array_equal(np.load(out)["x"][0, 0], expected)
        assert np.array_equal(drawn(eval(picture.python, {"ganforge": ganforge})[0]), expected)
    assert not np.array_equal(shown[0, None], shown[1, None]) and not np.array_equal(shown[1, None], shown[1, 0.5])
    assert views.sample(g, run, 1, 0.5).name == "sample_seed1_psi0.5"


def test_the_grid_is_the_file_ganforge_sample_writes(runs, generator, tmp_path):
    g, run = generator("gan"), runs("gan")
    picture = views.grid(g, str(run), 3, 0.8)
    assert picture.command == f"ganforge sample {run} --seed 3 --truncation 0.8"
    written = ganforge.sample(run, tmp_path / "grid.png", seed=3, truncation=0.8)
    assert written.read_bytes() == picture.data  # the same picture, byte for byte
    grid = pixels(picture.data)[::2, ::2]  # drawn twice as large, as `ganforge sample` draws it
    expected = viz.make_grid(g.sample(64, 3, truncation=0.8))
    assert np.array_equal(grid, expected)


def test_a_class_view_draws_that_class(runs, generator):
    g, run = generator("acgan"), str(runs("acgan"))
    assert g.conditional
    for k, name in [(2, "Pullover"), (7, "Sneaker")]:
        picture = views.sample(g, run, 5, condition=name)
        inputs = g.for_labels(g.noise(1, torch.Generator().manual_seed(5)), torch.tensor([k]))
        assert np.array_equal(pixels(picture.data), drawn(g(inputs)[0]))
        assert picture.command.endswith(f"--seed 5 --class {name}")
        assert np.array_equal(drawn(eval(picture.python, {"ganforge": ganforge})[0]), pixels(picture.data))
    grid = views.grid(g, run, 0, condition="7")
    inputs, columns = g.inputs(None, torch.Generator().manual_seed(0), picture=True, **{"class": "7"})
    assert (inputs["c"].argmax(1) == 7).all()
    assert np.array_equal(pixels(grid.data)[::2, ::2], viz.make_grid(g(inputs), columns))
    with pytest.raises(UserError, match="not a class"):
        views.sample(g, run, 0, condition="Spaceship")


def test_interpolation_moves_from_one_seed_to_the_other(runs, generator):
    g, run = generator("gan"), str(runs("gan"))
    ends = [pixels(views.interpolate(g, run, 4, 9, t).data) for t in (0.0, 1.0)]
    assert np.array_equal(ends[0], pixels(views.sample(g, run, 4).data))
    assert np.array_equal(ends[1], pixels(views.sample(g, run, 9).data))
    codes = g.codes([4, 9])
    middle = g({"z": lerp(codes["z"][:1], codes["z"][1:], torch.tensor([0.25]))[0]})[0]
    assert np.array_equal(pixels(views.interpolate(g, run, 4, 9, 0.25).data), drawn(middle))
    path = exploring.path_codes({"z": codes["z"][:1]}, {"z": codes["z"][1:]}, 5, spherical=True)
    assert np.array_equal(pixels(views.interpolate(g, run, 4, 9, 0.5, spherical=True).data), drawn(g(path)[2]))
    animation = Image.open(io.BytesIO(views.interpolation_gif(g, run, 4, 9, steps=6).data))
    assert animation.format == "GIF" and animation.n_frames == 10  # there and back
    assert np.array_equal(np.asarray(animation.convert("L")), ends[0])


def test_style_mixing_swaps_bands_of_styles(runs, generator):
    g, run = generator("stylegan"), str(runs("stylegan"))
    picture = views.mix(g, run, 2, 5)
    row, column = g.styles(g.codes([2])), g.styles(g.codes([5]))
    cells = [g.synthesize(row), g.synthesize(column)]
    for start, stop in g.style_ranges().values():
        mixed = row.clone()
        mixed[:, start:stop] = column[:, start:stop]
        cells.append(g.synthesize(mixed))
    grid = np.asarray(viz.grid_image(torch.cat(cells), len(cells), 2, 2))
    shown = pixels(picture.data)
    assert np.array_equal(shown[-grid.shape[0]:, -grid.shape[1]:], grid)  # under the captions
    assert picture.command == f"ganforge explore mix {run} --rows 2 --columns 5"
    with pytest.raises(UserError, match="style"):
        views.mix(generator("gan"), str(runs("gan")), 0, 1)


def test_noise_maps_are_drawn_from_their_own_seed(runs, generator):
    g, run = generator("stylegan"), str(runs("stylegan"))
    assert views.takes_noise(g) and not views.takes_noise(generator("gan"))
    maps = views.noise_maps(g, 3)
    assert maps and all(torch.equal(v, views.noise_maps(g, 3)[k]) for k, v in maps.items())
    assert not torch.equal(next(iter(maps.values())), next(iter(views.noise_maps(g, 4).values())))
    inputs, _ = g.inputs(1, torch.Generator().manual_seed(6), truncation=0.7)
    expected = drawn(g({**inputs, **maps})[0])
    assert np.array_equal(pixels(views.sample(g, run, 6, 0.7, noise=3).data), expected)


def drawn_class(g, run) -> str:
    """A class a tiny run draws (most of its classes it does not, which a direction refuses)."""
    _, surest = directions.class_means(Explorer(g, run))
    return g.data["class_names"][int(surest.argmax())]


def test_a_class_direction_is_the_one_explore_attribute_moves_along(runs, generator):
    g, run = generator("gan"), runs("gan")
    ex = Explorer(g, run)
    attr = drawn_class(g, run)
    kept = views.Directions(g, run)
    assert views.Directions.names(g, run) == list(g.data["class_names"])
    codes = g.codes([3])
    vector = directions.attribute_vectors(ex, attr, codes)
    for strength in (0.0, 1.5):
        picture = views.attribute(g, str(run), kept, 3, attr, strength)
        assert np.array_equal(pixels(picture.data), drawn(g({"z": codes["z"] + strength * vector})[0]))
    assert picture.command == f"ganforge explore attribute {run} --attr {shlex.quote(attr)} --seeds 3 --strength 1.5"
    assert views.Directions.names(generator("acgan"), runs("acgan")) == []  # a conditional run takes the class


def test_an_encoder_runs_directions_are_the_ones_explore_attribute_moves_along(runs, generator):
    g, run = generator("aae"), runs("aae")
    names = views.Directions.names(g, run)
    assert names == list(g.data["class_names"])
    codes, kept = g.codes([1, 2]), views.Directions(g, run)
    for attr in (names[0], names[7]):
        assert torch.equal(kept.vectors(codes, attr), directions.attribute_vectors(Explorer(g, run), attr, codes))
    picture = views.attribute(g, str(run), kept, 1, names[7], 2.0)
    vector = directions.attribute_vectors(Explorer(g, run), names[7], g.codes([1]))
    assert np.array_equal(pixels(picture.data), drawn(g({"z": g.codes([1])["z"] + 2 * vector})[0]))


def test_a_caption_draws_its_samples(runs, generator):
    g, run = generator("text2image"), str(runs("text2image"))
    picture = views.sample(g, run, 2, caption="a dark sneaker")
    assert np.array_equal(pixels(picture.data), drawn(g.sample(1, 2, text="a dark sneaker")[0]))
    assert picture.command.endswith("--seed 2 --text 'a dark sneaker'")


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan"])
def test_translation_of_an_image_of_any_size_both_ways(family, runs, generator, tmp_path):
    g, run = generator(family), str(runs(family))
    for direction in g.directions:
        channels = g.input_channels(direction)
        image = torch.randint(0, 256, (channels, 37, 45), generator=torch.Generator().manual_seed(0),
                              dtype=torch.uint8)
        picture = views.translate(g, run, image, direction, "photo.png")
        out = translate_image(g, image, direction)
        assert np.array_equal(pixels(picture.data), drawn(out))
        assert picture.command == f"ganforge translate {run} --input photo.png --direction {direction}"
    assert family != "cyclegan" or g.directions == ("AB", "BA")


def test_a_projected_image_is_editable(runs, generator):
    g, run = generator("gan"), str(runs("gan"))
    target = viz.to_uint8(g.sample(1, 11)[0])
    picture = views.project(g, run, target, steps=3, name="mine.png")
    codes = picture.extra["codes"]
    assert set(codes) == {"z"} and picture.command == f"ganforge project {run} --input mine.png --steps 3"
    unmoved = views.edit(g, run, codes, "mine", views.Directions(g, runs("gan")), drawn_class(g, runs("gan")), 0.0)
    assert np.array_equal(pixels(unmoved.data), drawn(g(codes)[0]))
    cg = generator("acgan")
    found = views.project(cg, str(runs("acgan")), target, steps=2).extra["codes"]
    as_bag = views.edit(cg, str(runs("acgan")), found, "mine", condition="Bag")
    assert np.array_equal(pixels(as_bag.data), drawn(cg(cg.for_labels(found, torch.tensor([8])))[0]))


def test_a_clip_is_continued(runs, generator):
    g, run = generator("video"), str(runs("video"))
    frames = torch.randint(0, 256, (g.context + 1, *g.spec.shape[1:]), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    picture = views.predict(g, run, frames, 3, "walk.gif")
    clip = Image.open(io.BytesIO(picture.data))
    assert clip.n_frames == g.context + 1 + 3
    clip.seek(clip.n_frames - 1)
    expected = viz.to_uint8(g.predict(frames[None].float().div(127.5).sub(1), 3))[0, -1].numpy()
    assert np.array_equal(np.asarray(clip.convert("L"))[::4, ::4], expected)
    assert picture.command == f"ganforge predict {run} --input walk.gif --frames 3"
    with pytest.raises(UserError, match="frame"):
        views.predict(g, run, frames[:1], 3)


def test_views_refuse_what_the_generator_cannot_do(runs, generator):
    g, run = generator("pix2pix"), str(runs("pix2pix"))
    for draw in (lambda: views.sample(g, run, 0), lambda: views.interpolate(g, run, 0, 1, 0.5)):
        with pytest.raises(UserError) as e:
            draw()
        assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="translates AB"):
        views.translate(g, run, torch.zeros(1, 8, 8, dtype=torch.uint8), "BA")


def test_file_names_and_calls_are_safe_to_write_and_to_paste():
    assert views.file_name("sample", "seed3", None, False, "T-shirt/top", "../x") == "sample_seed3_T-shirt-top_..-x"
    assert views.file_name("/", "") == "studio"
    assert views.command("sample", "my runs/a", text="it's") == "ganforge sample 'my runs/a' --text 'it'\"'\"'s'"
    assert views.keywords(seed=0, truncation=None, **{"class": "Bag"}) == "seed=0, **{'class': 'Bag'}"


def test_an_edit_names_the_code_where_project_writes_it_for_the_shipped_generator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = ganforge.load("pretrained:fashion", device="cpu")
    codes = g.noise(1, torch.Generator().manual_seed(0))
    picture = views.edit(g, "pretrained:fashion", codes, "mine", views.Directions(g, g.run_dir), "Dress", 1.0)
    npz = "runs/pretrained-fashion/projected/mine.npz"  # `ganforge project pretrained:fashion` writes it there
    assert f"--codes {npz}" in picture.command and repr(npz) in picture.python
