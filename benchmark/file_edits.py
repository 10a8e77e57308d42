"""Simulated edits for a prediction and a label given as files (``simedit edits``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from benchmark.case import InvalidCaseError
from benchmark.edits import Box, Click, Stroke
from benchmark.io import canonical_orientation, from_canonical_voxels, to_canonical
from benchmark.io.nifti import check_label_values, check_rank, read_nifti
from benchmark.policy import RoundState
from benchmark.registry.users import make_user


def _read_mask(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """bool [file axes] and the affine of a mask file, checked as ``load_mask`` checks one:
    3D, integer values >= 0 (a binary mask or a label map; probabilities are refused)."""
    data, affine, _ = read_nifti(Path(path))
    check_rank(Path(path), data.shape, channels=None)
    check_label_values(Path(path), data, None)
    return data != 0, affine


def box_in_file(box: Box, affine: np.ndarray, shape: tuple[int, ...]) -> dict[str, Any]:
    """A canonical box as JSON in the file's voxel indices: corners mapped back (a flip
    swaps which corner is lower), the drawn plane's axis the file axis it came from."""
    corners = from_canonical_voxels(np.asarray([box.lower, box.upper]), affine, shape)
    out = box.to_json()
    out["lower"], out["upper"] = corners.min(0).tolist(), corners.max(0).tolist()
    if box.plane is not None:
        axis, index = box.plane
        voxel = np.asarray(box.lower)
        voxel[axis] = index
        file_axis = int(np.flatnonzero(canonical_orientation(affine)[:, 0] == axis)[0])
        out["plane"] = [file_axis, int(from_canonical_voxels(voxel[None], affine, shape)[0, file_axis])]
    return out


def propose_for_files(prediction: Path, label: Path, tool: str, mode: str,
                      rng: np.random.Generator) -> list[dict[str, Any]]:
    """The edits the user spec ``tool`` proposes (its first round), as JSON dicts with
    voxel indices of the files' arrays.

    The masks are reoriented to canonical for the policy (axial = axis 2), the file's
    orientation passed along (for rules on the file's own grid), and the voxel indices
    mapped back, so they index the arrays as nibabel returns them.
    """
    pred, pred_affine = _read_mask(prediction)
    gt, gt_affine = _read_mask(label)
    if pred.shape != gt.shape:
        raise InvalidCaseError(f"{prediction}: shape {pred.shape} differs from the label's {gt.shape} ({label})")
    if not np.allclose(pred_affine, gt_affine, atol=1e-3):
        raise InvalidCaseError(f"{prediction}: affine differs from the label's ({label}); resample one onto the other")
    cpred, cgt = to_canonical(pred, gt_affine), to_canonical(gt, gt_affine)
    spacing = [1.0, 1.0, 1.0]  # voxel sizes permuted into the canonical axis order
    for axis, size in zip(nib.orientations.io_orientation(gt_affine)[:, 0], nib.affines.voxel_sizes(gt_affine)):
        spacing[int(axis)] = float(size)
    state = RoundState(cgt, cpred, spacing=tuple(spacing), orientation=canonical_orientation(gt_affine))
    out = []
    for edit in make_user(tool, mode).propose(state, rng):
        d = edit.to_json()
        if isinstance(edit, (Click, Stroke)):
            back = from_canonical_voxels(edit.voxels, gt_affine, gt.shape).tolist()
            if isinstance(edit, Click):
                d["voxel"] = back[0]
            else:
                d["voxels"] = back
        elif isinstance(edit, Box):
            d = box_in_file(edit, gt_affine, gt.shape)
        out.append(d)
    return out
