import tempfile

import pytest


@pytest.fixture(autouse=True)
def temporary_roots_in_tmp_path(tmp_path, monkeypatch):
    """External methods make their folders under the test's tmp_path (keep=true ones stay there)."""
    roots = tmp_path / "roots"
    roots.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(roots))
