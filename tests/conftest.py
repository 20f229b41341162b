import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

BENCH = Path(__file__).resolve().parents[1] / "bench"

# Fuzz tests draw the same examples on every run, so the suite passes or fails the same way on every machine;
# HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="session")
def _an_idle_machine():
    """`ganforge train` in a test sees an idle machine (cpu_share: no thread choice, no note, no wait policy)
    whatever else runs beside the suite; tests/test_cpu_share.py reads the real /proc/stat."""
    from ganforge import cpu_share

    mp = pytest.MonkeyPatch()
    mp.setattr(cpu_share, "other_busy_cores", lambda window_s=None: None)
    yield
    mp.undo()


@pytest.fixture(autouse=True, scope="session")
def _private_feature_cache(tmp_path_factory):
    """Tests never read or write the user's feature cache (~/.cache/ganforge)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_CACHE", str(tmp_path_factory.mktemp("ganforge-cache")))
    yield
    mp.undo()


def load_bench(name: str):
    """bench/NAME.py as a module, imported as `python bench/NAME.py` sees its neighbours (bench/ on sys.path),
    under the name bench_NAME; None when there is no such script."""
    path = BENCH / f"{name}.py"
    if not path.is_file():
        return None
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))  # last: a bench script never shadows an installed module
    if f"bench_{name}" not in sys.modules:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[f"bench_{name}"] = module
    return sys.modules[f"bench_{name}"]


@pytest.fixture
def bench():
    """load_bench: a bench script by name (bench("translation").row_run)."""
    return load_bench


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data beside the checkout
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def shared():
    """shared("mnist"): the folder of a dataset's four original IDX files in ../shared/data; the test skips
    where they are not there."""
    def folder(name: str) -> Path:
        path = SHARED_DATA / name
        if not all((path / f).is_file() for f in IDX_FILES):
            pytest.skip(f"the original {name} IDX files are not in {path}")
        return path

    return folder


def arithmetic_fingerprint() -> str:
    """sha256 (first 16 hex digits) of plain torch convolutions, forward and backward, at the DCGAN's shapes: how
    a machine's kernels round, which decides a weights digest as much as ganforge does."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 64, 14, 14, generator=g, requires_grad=True)
    w = torch.randn(128, 64, 4, 4, generator=g, requires_grad=True)
    wt = torch.randn(128, 64, 4, 4, generator=g, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, stride=2, padding=1)
    z = torch.nn.functional.conv_transpose2d(y, wt, stride=2, padding=1)
    m = torch.randn(64, 128, generator=g, requires_grad=True)
    lin = torch.nn.functional.linear(torch.tanh(m), torch.randn(256, 128, generator=g))
    (z.square().mean() + lin.square().mean()).backward()
    h = hashlib.sha256()
    for t in (y, z, lin, x.grad, w.grad, wt.grad, m.grad):
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.fixture
def weights_digest():
    """weights_digest(checkpoint folder): the sha256 of its model.safetensors' tensors, key by key."""
    from safetensors.torch import load_file

    def digest(path) -> str:
        tensors = load_file(str(Path(path) / "model.safetensors"))
        h = hashlib.sha256()
        for key in sorted(tensors):
            h.update(key.encode())
            h.update(tensors[key].contiguous().numpy().tobytes())
        return h.hexdigest()

    return digest


@pytest.fixture
def require_digest():
    """require_digest(digest, known): pass when `digest` is one recorded; fail when this machine's arithmetic was
    recorded with another; else skip, printing what to record."""
    def check(digest: str, known: dict[str, str | None]) -> None:
        if digest in known:
            return
        fingerprint = arithmetic_fingerprint()
        if fingerprint not in known.values():
            pytest.skip(f"no digest recorded for this CPU's arithmetic (fingerprint {fingerprint}): record the one "
                        "the code before the family contract (commit 5ffed12) gives here")
        raise AssertionError(f"weights digest {digest} is not the one recorded for this machine's arithmetic")

    return check


def write_user_folder(folder: Path, n: int = 24) -> Path:
    """A folder like a user's own: n images 48 wide and 32 high, every third gray, every second JPEG (the rest
    PNG), a coloured disc on a dark ground in each, and one corrupt file (broken.png)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:48]
    for i in range(n):
        cx, cy, r = rng.uniform(10, 38), rng.uniform(8, 24), rng.uniform(4, 10)
        img = np.zeros((32, 48, 3)) + 30
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
        im = Image.fromarray(img.astype(np.uint8))
        (im.convert("L") if i % 3 == 0 else im).save(folder / f"{i:03d}.{'jpg' if i % 2 else 'png'}")
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


@pytest.fixture(scope="session")
def user_folder():
    """user_folder(folder, n=24): write_user_folder, a user's own small folder of non-square mixed images."""
    return write_user_folder


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: a weights digest depends on how convolutions split their sums over
    threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_inception(monkeypatch, tmp_path):
    """No FID Inception file in any place it is looked for ($GANFORGE_DATA, ~/.cache/ganforge/data, the
    cache); returns the folder those places lie under."""
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def tiny_dcgan():
    """tiny_dcgan(batch=8, extra=()): the default recipe's DCGAN at width 8 on the CPU, no evaluation or
    tensorboard: the bench paths' config at test size."""
    from ganforge.config import load_config

    def make(batch: int = 8, extra=()):
        return load_config("default", [f"train.batch_size={batch}", "train.device=cpu", "log.tensorboard=false",
                                       "eval.every=0", "family.g_width=8", "family.d_width=8", *extra])

    return make


@pytest.fixture
def random_digits():
    """random_digits(n=20): n seeded random 1x28x28 uint8 images labelled 0..9 in turn, as a Dataset."""
    from ganforge.data import Dataset

    def make(n: int = 20):
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
        return Dataset("tiny", "image", x, torch.arange(n) % 10, [str(k) for k in range(10)], "generated")

    return make


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """The DevTools port of a headless chromium (tests/devtools.py); the test skips, saying why, where none is
    installed or it cannot start here."""
    import devtools

    binary = devtools.chromium()
    if binary is None:
        pytest.skip("no chromium binary (chromium, chromium-browser or google-chrome) on PATH; "
                    "apt-get install chromium to run the browser tests")
    with devtools.started(binary, tmp_path_factory.mktemp("chromium-profile")) as (port, why):
        if port is None:
            pytest.skip(why)
        yield port
