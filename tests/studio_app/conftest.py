"""Tiny trained runs of the families the studio's views differ on, each trained once for the studio's tests (a
few seconds each, from the tiny settings of tests/training), and a live studio server over several of them."""

import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import viz
from ganforge.cli import main
from training import tiny_data
from training.test_every_family import TINY

QUIET = ["--quiet", "--steps", "2", "--set", "log.tensorboard=false", "--set", "eval.every=0"]


def train_tiny(run: Path, family: str, shared, *more: str) -> Path:
    """`family`'s preset at its tiny size (tests/training's TINY) and the settings `more`, 2 steps, into `run`."""
    preset, settings, data, _ = TINY[family]
    mp = pytest.MonkeyPatch()
    try:
        if data:
            mp.setenv("GANFORGE_DATA", str(shared(data).parent))  # skips where the data set is not there
        tiny_data.shrink(mp.setattr)
        assert main(["train", "--config", preset, "--out", str(run), *QUIET,
                     *(a for s in [*settings, *more] for a in ("--set", s))]) == 0
        return run
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def runs(tmp_path_factory, shared):
    """runs(family): the tiny run of a family ("gan", "acgan", "aae", "pix2pix", "cyclegan", "stylegan", "video",
    "text2image"), trained on first use; the test skips where its data set is not in ../shared/data."""
    root = tmp_path_factory.mktemp("studio-runs")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            if name == "acgan":  # the gan family conditioned on the class, on the embedded 10k
                made[name] = train_tiny(root / name, "gan", shared, "family.condition=acgan", "family.replay=0")
            else:
                made[name] = train_tiny(root / name, name, shared)
        return made[name]

    return get


@pytest.fixture(scope="session")
def generator(runs):
    """generator(family): the tiny run's Generator, loaded once."""
    loaded = {}

    def get(name: str):
        if name not in loaded:
            loaded[name] = ganforge.load(runs(name), device="cpu")
        return loaded[name]

    return get


# -- pictures -----------------------------------------------------------------------------------------------------


def pixels(data: bytes | str) -> np.ndarray:
    """The pixels of PNG bytes or a data: URI, H x W (gray) or H x W x 3."""
    if isinstance(data, str):
        import base64

        assert data.startswith("data:image/png;base64,"), data[:40]
        data = base64.b64decode(data.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)))


def drawn(images: torch.Tensor) -> np.ndarray:
    """What a view's PNG holds for one image in [-1, 1] (C x H x W): its uint8 pixels as saved."""
    a = viz.to_uint8(images.cpu()).permute(1, 2, 0).numpy()
    return a[:, :, 0] if a.shape[2] == 1 else a


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


# -- talking to a live server --------------------------------------------------------------------------------------


def call(url: str, path: str, method: str = "GET", body=None, headers: dict | None = None,
         timeout: float = 120) -> tuple[int, dict | bytes]:
    """(status, JSON answer or raw bytes) of one request to the studio at `url`."""
    import http.client

    u = urlsplit(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        kind = response.getheader("content-type") or ""
        return response.status, json.loads(data) if kind.startswith("application/json") else data
    finally:
        connection.close()
