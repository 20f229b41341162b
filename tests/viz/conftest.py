import pytest


@pytest.fixture
def no_temp_files():
    """A check that no hidden `.tmp-*` file (what an interrupted atomic write leaves) is under a folder."""
    def check(directory) -> bool:
        return not [p for p in directory.rglob("*") if p.name.startswith(".tmp-")]

    return check
