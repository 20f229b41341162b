"""`ganforge translate`: any image size through an image-to-image run, file names kept, channels converted,
nothing overwritten without --force, nothing written when one input fails."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge import api, viz
from ganforge.cli import main
from ganforge.errors import UserError
from ganforge.generator import Translates


@pytest.fixture(scope="module")
def run(shared, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_DATA", str(shared("fashion-mnist").parent))
    out = tmp_path_factory.mktemp("p2p") / "run"
    assert main(["train", "--config", "pix2pix-fashion-edges", "--steps", "2", "--out", str(out), "--quiet",
                 "--set", "data.subset=64", "--set", "family.g_width=8", "--set", "family.d_width=8",
                 "--set", "log.tensorboard=false", "--set", "train.batch_size=8"]) == 0
    yield out
    mp.undo()


def write(path, size, mode="L", seed=0):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def test_a_folder_keeps_names_and_sizes(run, tmp_path, capsys):
    src = tmp_path / "edges"
    write(src / "a.png", (28, 28))
    write(src / "odd.jpg", (45, 37), "RGB")  # 45x37 is not a multiple of 16: padded, translated, cropped back
    write(src / "sub" / "b.png", (64, 32))
    assert main(["translate", str(run), "--input", str(src)]) == 0
    out = run / "translated" / "edges"
    assert f"wrote 3 PNG files under {out}" in capsys.readouterr().out
    expected = {"a.png": (28, 28), "odd.png": (45, 37), "sub/b.png": (64, 32)}
    for name, size in expected.items():
        with Image.open(out / name) as img:
            assert img.size == size and img.mode == "L"  # the model's one channel, from colour too
    # a second run refuses, naming the flag, and leaves the files as they were
    before = (out / "a.png").read_bytes()
    assert main(["translate", str(run), "--input", str(src)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["translate", str(run), "--input", str(src), "--force"]) == 0
    assert (out / "a.png").read_bytes() == before  # the same weights give the same picture


def test_one_image_through_the_api_and_the_errors(run, tmp_path):
    write(tmp_path / "x.png", (32, 32))
    [written] = api.translate(run, tmp_path / "x.png", out=tmp_path / "y.png")
    with Image.open(written) as img:
        assert written == tmp_path / "y.png" and img.size == (32, 32)
    (tmp_path / "bad").mkdir()
    write(tmp_path / "bad" / "good.png", (28, 28))
    (tmp_path / "bad" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="broken.png"):
        api.translate(run, tmp_path / "bad", out=tmp_path / "bad-out")
    assert not (tmp_path / "bad-out").exists()  # nothing half-written
    with pytest.raises(UserError, match="--direction BA"):
        api.translate(run, tmp_path / "x.png", out=tmp_path / "z.png", direction="BA")
    with pytest.raises(UserError, match="no such file"):
        api.translate(run, tmp_path / "missing.png")
    with pytest.raises(UserError, match="not an image-to-image run"):
        api.translate(shared_gan_run(tmp_path), tmp_path / "x.png")


def as_input(path) -> torch.Tensor:
    """A gray image file as the network takes it: 1 x 1 x H x W in [-1, 1]."""
    return torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32))[None, None] / 127.5 - 1


def test_the_files_hold_the_generators_own_translation(run, tmp_path):
    g = api.load(run)
    assert isinstance(g, Translates) and g.directions == ("AB",)
    write(tmp_path / "x.png", (32, 32), seed=1)  # a size the networks divide: no padding
    [out] = api.translate(run, tmp_path / "x.png", out=tmp_path / "y.png")
    got = np.asarray(Image.open(out))
    expected = viz.to_uint8(g.translate(as_input(tmp_path / "x.png")))[0, 0].numpy()
    assert np.array_equal(got, expected)
    assert not np.array_equal(got, np.asarray(Image.open(tmp_path / "x.png")))  # not the input handed back
    # 45x37: the border repeated up to a multiple of what the networks divide, translated, cropped back
    write(tmp_path / "odd.png", (45, 37), seed=2)
    [out] = api.translate(run, tmp_path / "odd.png", out=tmp_path / "odd-out.png")
    m = g.size_multiple()
    ph, pw = -37 % m, -45 % m
    assert ph and pw
    padded = F.pad(as_input(tmp_path / "odd.png"), [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], mode="replicate")
    expected = viz.to_uint8(g.translate(padded))[0, 0, ph // 2 : ph // 2 + 37, pw // 2 : pw // 2 + 45].numpy()
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def shared_gan_run(tmp_path):
    out = tmp_path / "gan"
    assert main(["train", "--steps", "1", "--out", str(out), "--quiet", "--set", "family.g_width=8",
                 "--set", "family.d_width=8", "--set", "log.tensorboard=false", "--set", "eval.every=0"]) == 0
    return out
