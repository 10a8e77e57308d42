"""Fixtures shared by the protocol tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.phantoms.synth import synthesize
from tests.benchmark.protocol.helpers import CASES


@pytest.fixture(scope="package")
def data(tmp_path_factory) -> Path:
    """Four tiny BraTS 2018 phantoms."""
    root = tmp_path_factory.mktemp("data")
    assert synthesize(root, len(CASES), (40, 44, 32), 0, "brats2018", 1, progress=False) == CASES
    return root
