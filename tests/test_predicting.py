"""`ganforge predict`: a clip's next frames from a video run, written as a GIF of the input followed by the
Generator's own prediction for it; what it refuses, in one line."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import ganforge
from ganforge import viz
from ganforge.cli import main
from ganforge.data import moving_mnist as mm
from ganforge.generator import PredictsFrames

SMALL = ["family.width=8", "family.d_width=8", "log.tensorboard=false", "train.batch_size=8"]


@pytest.fixture(scope="module")
def video_run(shared, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    mp.setattr(mm, "N_TRAIN", 64)
    run = tmp_path_factory.mktemp("predict") / "video"
    assert main(["train", "--config", "video-moving-mnist", "--steps", "3", "--out", str(run), "--quiet",
                 *(a for s in SMALL for a in ("--set", s))]) == 0
    yield run
    mp.undo()


def moving_square(frames: int, size: int = 64) -> np.ndarray:
    """uint8 frames of a bright square moving right over a dark, slightly noisy background."""
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 20, (frames, size, size), dtype=np.uint8)
    for t in range(frames):
        clip[t, 20:32, 8 + 4 * t : 20 + 4 * t] = 230
    return clip


def gif_frames(path) -> np.ndarray:
    """A GIF's frames as uint8 T x H x W."""
    with Image.open(path) as gif:
        return np.stack([np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)])


def test_the_gif_is_the_input_then_the_generators_own_prediction(video_run, tmp_path, capsys):
    g = ganforge.load(video_run)
    assert isinstance(g, PredictsFrames)
    clip = moving_square(g.context + 2)  # more frames than the run reads: it continues from the last ones
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(clip):
        Image.fromarray(frame).save(folder / f"{t:03d}.png")
    out = tmp_path / "out.gif"
    assert main(["predict", str(video_run), "--input", str(folder), "--frames", "5", "--out", str(out)]) == 0
    assert f"wrote {out} (the input, then 5 predicted frames; 64x64, the run's frame size)" in capsys.readouterr().out
    got = gif_frames(out)
    assert got.shape == (len(clip) + 5, 64, 64)  # the run's own size: the GIF is an --input again
    assert np.array_equal(got[: len(clip)], clip)  # the input, as given
    past = torch.from_numpy(clip)[None].float() / 127.5 - 1
    expected = viz.to_uint8(g.predict(past, 5))[0].numpy()
    assert np.array_equal(got[len(clip) :], expected)
    assert not np.array_equal(expected, np.repeat(clip[-1:], 5, 0))  # not the last frame held
    # the same clip as a GIF gives the same prediction
    Image.fromarray(clip[0]).save(tmp_path / "clip.gif", save_all=True,
                                  append_images=[Image.fromarray(f) for f in clip[1:]], duration=100, loop=0)
    again = ganforge.api.predict(video_run, tmp_path / "clip.gif", frames=5, out=tmp_path / "again.gif")
    assert np.array_equal(gif_frames(again), got)
    # the prediction read back as the next input: it continues from its own last frames
    further = ganforge.api.predict(video_run, again, frames=2, out=tmp_path / "further.gif")
    assert gif_frames(further).shape == (len(clip) + 7, 64, 64)


def test_what_predict_refuses(video_run, tmp_path, capsys):
    def error(argv) -> str:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        return err

    folder = tmp_path / "short"
    folder.mkdir()
    Image.fromarray(moving_square(1)[0]).save(folder / "0.png")
    assert "--frames must be at least 1" in error(["predict", str(video_run), "--input", str(folder), "--frames", "0"])
    assert "the run reads the last 4" in error(["predict", str(video_run), "--input", str(folder)])
    gan = tmp_path / "gan"
    assert main(["train", "--out", str(gan), "--quiet", "--steps", "1", "--set", "family.g_width=8", "--set",
                 "family.d_width=8", "--set", "log.tensorboard=false", "--set", "eval.every=0"]) == 0
    err = error(["predict", str(gan), "--input", str(folder)])
    assert err.startswith(f"ganforge predict: error: `ganforge predict` continues clips, and {gan} was trained on "
                          "image data; the gan family's generator cannot")
    assert err.endswith("train a video run (--config video-moving-mnist)")
    assert not (gan / "predicted").exists()
