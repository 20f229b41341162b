import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

BENCH = Path(__file__).resolve().parents[1] / "bench"

# Fuzz tests draw the same examples on every run, so the suite passes or fails the same way on every machine;
# HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
