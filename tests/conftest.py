import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_feature_cache(tmp_path_factory):
    """Tests never read or write the user's feature cache (~/.cache/ganforge)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_CACHE", str(tmp_path_factory.mktemp("ganforge-cache")))
    yield
    mp.undo()
