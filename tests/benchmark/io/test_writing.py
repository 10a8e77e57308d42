"""write_case: bytes that depend on the input only, and its own checks of the arguments."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.io.writing import write_case
from tests.benchmark.io.helpers import make_volumes, write


# --- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["brats2021", "msd", "nnunet"])
def test_written_bytes_depend_on_the_input_only(tmp_path, layout):
    first = write(tmp_path / "one", layout, case_ids=("c",))
    second = write(tmp_path / "two", layout, case_ids=("c",))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        data = (first / relative).read_bytes()
        assert data == (second / relative).read_bytes(), relative
        if relative.name.endswith(".gz"):
            assert data[4:8] == b"\0\0\0\0" and data[3] & 0x08 == 0  # no mtime, no file name


# --- write_case's own checks ----------------------------------------------------------


def test_write_case_refuses_bad_arguments(tmp_path):
    modalities, label, _ = make_volumes()
    with pytest.raises(ValueError, match="label has values \\[3\\]"):
        write_case(tmp_path, "msd", "c", modalities, np.where(label == 4, 3, label), np.eye(4))
    with pytest.raises(ValueError, match="keys"):
        write_case(tmp_path, "msd", "c", {"flair": modalities["flair"]}, label, np.eye(4))
    with pytest.raises(ValueError, match="t2"):
        write_case(tmp_path, "msd", "c", {**modalities, "t2": modalities["t2"][:-1]}, label, np.eye(4))
    with pytest.raises(ValueError, match="case_id"):
        write_case(tmp_path, "msd", "a/b", modalities, label, np.eye(4))
    assert not any(tmp_path.iterdir())
