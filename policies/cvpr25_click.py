"""The CVPR 2025 interactive 3D challenge's simulated click, and variants of it.

The challenge (``CVPR25_iter_eval.py`` of JunMa11/CVPR-MedSegFMCompetition) clicks once
per round: the largest 26-connected component of the disagreement ``label !=
prediction`` (under- and over-segmentation together), at a maximum of the component's
Euclidean distance transform (each voxel's distance to the nearest voxel outside the
component, outside the volume counting as outside); positive iff the ground truth is
tumour there. Nothing when the prediction is perfect.

Two options (:class:`Cvpr25Click`, spec ``cvpr25:units=...,ties=...``):

- ``units``: ``mm`` (default) measures distances in mm (the voxel spacing); ``voxel`` in
  voxels, as the challenge does (it ignores the spacing).
- ``ties``: ``random`` (default) picks uniformly among the maximal voxels with the
  session's rng, on the canonical arrays. ``cvpr25`` follows the challenge's rule
  exactly, on the array the challenge would hold for the case's file
  (:func:`~benchmark.io.orientation.to_file_zyx`: SimpleITK's (z, y, x) of the file's own
  voxel grid): components numbered by cc3d over the whole array in that order, the first
  of equal largest ones (``np.argmax`` of the sizes), the distance transform of the
  component's bounding box padded by 25% per axis (at least one voxel), which equals its
  transform with outside-the-box as background, except that a padded box of more than
  60M voxels is first reduced 2x by block maximum (and the distances repeated back),
  and a transform that is zero on the whole component falls back to the component
  itself (kept for fidelity; it cannot happen, a component voxel is at least 1 away);
  then ``np.random.seed(42); np.random.choice(n)`` over the ``np.argwhere`` list of the
  maximal voxels, reproduced with a private ``RandomState(42)`` (numpy's global state
  is never touched and the session rng is not used). The challenge's GPU path (cuCIM)
  is taken to give scipy's exact distances, its CPU path. With ``units=mm`` the
  transform takes the spacing in that array's axis order, ``sampling=(dz, dy, dx)``.
  The maximal voxels, and so the click, depend on the file's orientation.

``cvpr25:units=voxel,ties=cvpr25`` is the challenge voxel for voxel
(``tests/policies/test_cvpr25_click.py`` compares it with a port of its code).

Ties are compared robustly: in voxels on exact squared integer distances (``edt.edtsq``;
float32 holds them exactly below 2**24, i.e. components under ~4000 voxels across), so
float rounding never splits or merges a tie set (the challenge's float64 square roots of
the same integers order them identically). In mm with ``ties=cvpr25`` the squared
distances are float32 and voxels within a relative 1e-6 of the maximum tie (true ties
from different offsets, e.g. (0, 0, 5) and (4, 0, 3) at 0.31 mm isotropic, which float32
rounds apart, stay ties). The default
``units=mm, ties=random`` keeps its earlier rule bit for bit: float32 distances, exact
equality with the maximum.
"""

from __future__ import annotations

import cc3d
import edt
import numpy as np

from benchmark.edits import Click
from benchmark.errors import CONNECTIVITY, check_pair
from benchmark.io.orientation import IDENTITY, check_orientation, file_zyx_to_canonical, to_file_zyx
from benchmark.metrics import bounding_box
from benchmark.policy import RoundState

UNITS = ("mm", "voxel")
TIES = ("random", "cvpr25")

#: The challenge's seed, set before each draw among the maximal voxels.
CHALLENGE_SEED = 42
#: Padded boxes larger than this (voxels) are block-max downsampled 2x before the EDT.
LARGE_ROI_VOXELS = 60_000_000
#: Relative tolerance on squared mm distances for ties (units=mm, ties=cvpr25).
MM_TIE_RTOL = 1e-6


def distance_sq(mask: np.ndarray, sampling: tuple[float, float, float] | None, black_border: bool = True) -> np.ndarray:
    """float32 [A, B, C]: squared Euclidean distance of each voxel of ``mask`` to the nearest 0.

    ``sampling`` None: in voxels (exact integers); else the voxel size along the array's
    axes. ``black_border``: outside the array counts as 0 (else only the array's own 0s).
    """
    data = np.ascontiguousarray(mask, dtype=np.uint8)
    if sampling is None:
        return edt.edtsq(data, black_border=black_border)
    return edt.edtsq(data, anisotropy=tuple(float(s) for s in sampling), black_border=black_border)


def _downsampled_distance_sq(component: np.ndarray, pad: np.ndarray,
                             sampling: tuple[float, float, float] | None) -> np.ndarray:
    """The challenge's large-ROI branch, on ``component`` padded by ``pad`` per side.

    The padded box (zeros at its end to even size, as skimage's block_reduce pads) is
    reduced by the maximum of 2x2x2 blocks, transformed (its own zeros as background),
    and each voxel of ``component`` takes its block's value.
    """
    shape = np.asarray(component.shape)
    padded = np.zeros(tuple(int(n) for n in -(-(shape + 2 * pad) // 2) * 2), np.uint8)
    padded[tuple(slice(int(p), int(p + n)) for p, n in zip(pad, shape))] = component
    half = np.asarray(padded.shape) // 2
    down = padded.reshape(half[0], 2, half[1], 2, half[2], 2).max(axis=(1, 3, 5))
    dist = distance_sq(down, sampling, black_border=False)
    return dist[np.ix_(*[(int(p) + np.arange(int(n))) // 2 for p, n in zip(pad, shape)])]


def deepest_voxels(component: np.ndarray, sampling: tuple[float, float, float] | None = None,
                   large_roi: int = LARGE_ROI_VOXELS) -> np.ndarray:
    """The challenge's maximal-EDT voxels of one component, in C order.

    Args:
        component: bool [A, B, C], the component cropped to its bounding box.
        sampling: None for voxel units (exact ties), else voxel size along A, B, C
            (ties within :data:`MM_TIE_RTOL`).
        large_roi: the padded-box size above which the challenge downsamples.

    Returns:
        int [N, 3] indices into ``component`` (``np.argwhere`` order).
    """
    shape = np.asarray(component.shape)
    pad = np.maximum((shape * 0.25).astype(int), 1)
    if int(np.prod([int(n) for n in shape + 2 * pad])) > large_roi:
        dist = _downsampled_distance_sq(component, pad, sampling)
    else:
        dist = distance_sq(component, sampling)  # = the padded box's EDT: the pad is all background
    dist = np.where(component, dist, np.float32(0))
    peak = dist.max()
    if peak == 0:  # the challenge's fallback: any voxel of the component
        return np.argwhere(component)
    return np.argwhere(dist == peak if sampling is None else dist >= peak * (1 - MM_TIE_RTOL))


def challenge_click_zyx(error: np.ndarray, sampling: tuple[float, float, float] | None = None,
                        large_roi: int = LARGE_ROI_VOXELS) -> tuple[int, int, int] | None:
    """The challenge's click voxel on its own array; None without error.

    Args:
        error: bool [D, H, W], ``label != prediction`` in the file's SimpleITK (z, y, x) order.
        sampling: None (the challenge: voxels) or the spacing (dz, dy, dx) in mm.
        large_roi: see :func:`deepest_voxels`.

    Returns:
        (z, y, x) indices into ``error``.
    """
    box = bounding_box(error)
    if box is None:
        return None
    # numbered over the whole array in C order (cc3d scans memory order; the challenge's
    # npz arrays are C-ordered), so the first of equal largest components is theirs
    labels = cc3d.connected_components(np.ascontiguousarray(error), connectivity=CONNECTIVITY)[box]
    sizes = np.bincount(labels.ravel().astype(np.intp, copy=False))
    sizes[0] = 0
    largest = labels == np.argmax(sizes)  # the first of equal largest, as the challenge
    inner = bounding_box(largest)
    deepest = deepest_voxels(largest[inner], sampling, large_roi)
    pick = deepest[np.random.RandomState(CHALLENGE_SEED).choice(len(deepest))]
    return tuple(int(pick[a] + box[a].start + inner[a].start) for a in range(3))  # type: ignore[return-value]


def file_zyx_spacing(spacing: tuple[float, float, float], orientation: np.ndarray) -> tuple[float, float, float]:
    """Canonical spacing (mm along X, Y, Z) in the axis order of :func:`to_file_zyx`'s array."""
    ornt = check_orientation(orientation)
    file_axes = [float(spacing[int(target)]) for target in ornt[:, 0]]
    return tuple(file_axes[::-1])  # type: ignore[return-value]


def _random_tie_click(label: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float] | None,
                      rng: np.random.Generator) -> Click | None:
    """ties=random on the canonical arrays: crop to the errors, uniform pick with ``rng``."""
    wrong = np.flatnonzero(label ^ prediction)
    if len(wrong) == 0:
        return None
    coords = np.unravel_index(wrong, label.shape)
    box = tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)
    components = cc3d.connected_components(label[box] ^ prediction[box], connectivity=CONNECTIVITY)
    sizes = np.bincount(components.ravel()[components.ravel() > 0])
    largest = np.ascontiguousarray(components == np.argmax(sizes), dtype=np.uint8)
    if spacing is None:
        distance = edt.edtsq(largest, black_border=True)
    else:  # the earlier rule, unchanged: float32 mm distances, exact equality
        distance = edt.edt(largest, anisotropy=spacing, black_border=True)
    deepest = np.argwhere(distance == distance.max())
    voxel = deepest[rng.integers(len(deepest))] + [s.start for s in box]
    return Click(tuple(voxel), bool(label[tuple(voxel)]))


def cvpr25_click(label: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float],
                 rng: np.random.Generator, units: str = "mm", ties: str = "random",
                 orientation: np.ndarray = IDENTITY) -> Click | None:
    """The CVPR 2025 challenge's click (see the module docstring); None without error.

    Args:
        label, prediction: bool [X, Y, Z], canonical.
        spacing: voxel size in mm along X, Y, Z (unused with ``units="voxel"``).
        rng: draws among the maximal voxels with ``ties="random"``; unused with "cvpr25".
        units: "mm" or "voxel".
        ties: "random" or "cvpr25".
        orientation: the case file's nibabel orientation [3, 2] (used by ``ties="cvpr25"``).
    """
    check_pair(label, prediction)
    _check_options(units, ties)
    sampling = tuple(float(s) for s in spacing) if units == "mm" else None
    if ties == "random":
        return _random_tie_click(label, prediction, sampling, rng)  # type: ignore[arg-type]
    ornt = check_orientation(orientation)
    error = to_file_zyx(label ^ prediction, ornt)
    zyx = challenge_click_zyx(error, None if sampling is None else file_zyx_spacing(sampling, ornt))  # type: ignore[arg-type]
    if zyx is None:
        return None
    voxel = tuple(int(c) for c in file_zyx_to_canonical(np.asarray([zyx]), ornt, label.shape)[0])
    return Click(voxel, bool(label[voxel]))


def _check_options(units: str, ties: str) -> None:
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")


class Cvpr25Click:
    """The CVPR 2025 interactive 3D challenge's simulated user: one click per round.

    Args:
        units: "mm" (default: distances honour the spacing) or "voxel" (the challenge).
        ties: "random" (default: uniform among maximal voxels, session rng) or "cvpr25"
            (the challenge's rule on the file's voxel grid, seed 42).
    """

    name = "cvpr25"

    def __init__(self, units: str = "mm", ties: str = "random") -> None:
        _check_options(units, ties)
        self.units = units
        self.ties = ties

    def propose(self, state: RoundState, rng: np.random.Generator) -> list[Click]:
        click = cvpr25_click(state.label, state.prediction, state.spacing, rng, self.units, self.ties,
                             state.orientation)
        return [] if click is None else [click]
