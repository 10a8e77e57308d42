"""Brain anatomy for the phantoms: real tissue maps, placed in a grid and deformed per case.

The MNI152 2009a symmetric template ships inside the nilearn package as grey- and
white-matter probability maps and a skull-stripped T1 (197x233x189, 1 mm, RAS). They
are read straight from the package folder with nibabel, so nothing is ever downloaded.
The brain (T1 > 0) is centred in the requested grid and scaled to fit it, keeping its
aspect, never enlarged (at BraTS' 240x240x155, 0.96 grid voxels per mm). That
placement is cached per shape. Each case then samples the placed maps through its own
smooth deformation: a small rotation, per-axis scaling within 8%, a small shift and a
smooth random displacement, plus an optional radial push around each tumour (mass
effect). The ventricles are found once per shape on the placed template (CSF that lies
deep in the brain) and looked up per case through its deformation.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cc3d
import edt
import nibabel as nib
import numpy as np
import torch

from benchmark.phantoms.noise import smooth_noise

TEMPLATE_FILES = {
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
}
MARGIN_MM = 3.0  # free space kept around the brain on each side of the grid
MAX_SCALING = 0.08  # per-axis anatomy scaling, either way
ROTATION_SD_DEG = 3.0
ELASTIC_LENGTH_MM = 30.0
ELASTIC_SD_MM = (0.7, 2.0)
VENTRICLE_DEPTH_MM = 10.0  # CSF components lying wholly deeper than this are ventricles


@dataclass(frozen=True, eq=False)
class Template:
    """The template brain placed in one grid (read-only arrays).

    Attributes:
        tissue: float32 [3, X, Y, Z]: grey-matter, white-matter and brain probabilities.
        depth: float32 [X, Y, Z]: distance in voxels from each brain voxel to the
            nearest non-brain voxel (0 outside the brain).
        scale: grid voxels per template millimetre (at most 1).
        extent: (X, Y, Z) size of the placed brain in voxels.
        ventricles: bool [X, Y, Z]: the ventricular system (CSF components that lie
            wholly deeper than VENTRICLE_DEPTH_MM; sulcal CSF reaches the surface).
    """

    tissue: np.ndarray
    depth: np.ndarray
    scale: float
    extent: tuple[float, float, float]
    ventricles: np.ndarray


def template_folder() -> Path:
    """The folder inside the installed nilearn package that holds the MNI152 maps.

    Found without importing nilearn (its import is slow and not needed).
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "phantoms need the MNI152 tissue maps shipped with nilearn; install it: pip install 'nilearn>=0.10'"
        )
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: missing {missing}; reinstall nilearn (>=0.10), whose package data holds the MNI152 2009a maps"
        )
    return folder


@functools.lru_cache(maxsize=1)
def _load_template() -> tuple[np.ndarray, np.ndarray]:
    """The template's tissue, float32 [3, 197, 233, 189] (grey matter, white matter, brain
    probabilities), and the brain's bounding box, int [2, 3] (first and last voxel)."""
    folder = template_folder()
    maps = {}
    for key, name in TEMPLATE_FILES.items():
        image = nib.as_closest_canonical(nib.load(folder / name))
        maps[key] = np.ascontiguousarray(image.dataobj, dtype=np.float32)  # nibabel gives Fortran order
    brain = maps["t1"] > 0  # the template is skull-stripped; its brain has no holes
    # The tissue maps are 8-bit probabilities; keep them inside the brain mask.
    tissue = np.stack([maps["gm"] / 255.0, maps["wm"] / 255.0, brain.astype(np.float32)])
    tissue[:2] *= tissue[2]
    tissue.setflags(write=False)
    found = np.argwhere(brain)
    return tissue, np.stack([found.min(axis=0), found.max(axis=0)])


def fit_scale(shape: tuple[int, int, int]) -> float:
    """Grid voxels per template millimetre that fit the brain, with margins, in `shape`; at most 1."""
    _, box = _load_template()
    size_mm = box[1] - box[0] + 1 + 2 * MARGIN_MM
    return float(min(1.0, *(np.asarray(shape) / size_mm)))


@functools.lru_cache(maxsize=4)
def grid_template(shape: tuple[int, int, int]) -> Template:
    """The template brain centred in a grid of `shape` (X, Y, Z), scaled to fit; cached per shape."""
    tissue, box = _load_template()
    scale = fit_scale(shape)
    # Average whole blocks of voxels first, so that shrinking does not alias.
    pool = max(1, int(1.0 / scale))
    if pool > 1:
        tissue = torch.nn.functional.avg_pool3d(_tensor(tissue)[None], pool)[0].numpy()
    # Only the part of the grid that the brain covers needs sampling.
    extent = (box[1] - box[0] + 1) * scale
    grid_centre = (np.asarray(shape) - 1) / 2.0
    lo = np.maximum(np.floor(grid_centre - extent / 2.0 - 1).astype(int), 0)
    hi = np.minimum(np.ceil(grid_centre + extent / 2.0 + 2).astype(int), shape)
    centre = ((box[0] + box[1]) / 2.0 - (pool - 1) / 2.0) / pool
    step = 1.0 / (scale * pool)
    axes = [
        np.float32(c) + np.float32(step) * (np.arange(a, b, dtype=np.float32) - np.float32(g))
        for a, b, c, g in zip(lo, hi, centre, grid_centre)
    ]
    coordinates = np.stack(np.broadcast_arrays(*np.ix_(*axes)), axis=-1)
    placed = np.zeros((3, *shape), dtype=np.float32)
    placed[(slice(None), *(slice(a, b) for a, b in zip(lo, hi)))] = np.clip(_sample(tissue, coordinates), 0.0, 1.0)
    depth = edt.edt(placed[2] > 0.5).astype(np.float32)
    ventricles = _ventricles(placed, depth, scale)
    for array in (placed, depth, ventricles):
        array.setflags(write=False)
    return Template(placed, depth, scale, tuple(float(e) for e in extent), ventricles)  # type: ignore[arg-type]


def _ventricles(tissue: np.ndarray, depth: np.ndarray, scale: float) -> np.ndarray:
    """bool [X, Y, Z]: CSF (probability > 0.5) components whose every voxel lies deeper
    than VENTRICLE_DEPTH_MM. tissue: float32 [3, X, Y, Z]; depth: float32 [X, Y, Z] voxels."""
    csf = (tissue[2] - tissue[0] - tissue[1]) > 0.5
    components, count = cc3d.connected_components(csf, connectivity=6, return_N=True)
    if count == 0:
        return csf
    shallowest = np.full(count + 1, np.inf, dtype=np.float32)
    np.minimum.at(shallowest, components[csf], depth[csf])
    return (shallowest >= VENTRICLE_DEPTH_MM * scale)[components] & csf


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """float64 [3, 3] rotation by `angles` (radians) about X, then Y, then Z."""
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True, eq=False)
class Deformation:
    """Where the voxels of one case sample the placed template.

    Attributes:
        box: the part of the output grid that can hold brain, as slices; outside
            it every tissue map is 0.
        coordinates: float32 [BX, BY, BZ, 3], the template-grid voxel position
            (x, y, z) sampled by each voxel of the box.
    """

    box: tuple[slice, slice, slice]
    coordinates: np.ndarray

    @property
    def origin(self) -> np.ndarray:
        """int [3], the output voxel at the box's first corner."""
        return np.array([s.start for s in self.box])


def random_deformation(
    template: Template, shape: tuple[int, int, int], rng: np.random.Generator, margin: float = 0.0
) -> Deformation:
    """A random smooth deformation of the placed template into a grid of `shape`.

    The anatomy is scaled per axis by up to 8% (less where the grid leaves no room),
    rotated by a few degrees, shifted slightly and displaced by a smooth random field.

    Args:
        template: the template placed in this shape's grid.
        shape: (X, Y, Z) of the output grid.
        rng: the source of all randomness.
        margin: voxels by which a later push_away may move the brain's surface out.
    """
    room = np.asarray(shape) / np.maximum(template.extent, 1.0)
    stretch = rng.uniform(1.0 - MAX_SCALING, np.minimum(1.0 + MAX_SCALING, np.maximum(room, 1.0)))
    angles = np.deg2rad(np.clip(rng.normal(0.0, ROTATION_SD_DEG, 3), -2 * ROTATION_SD_DEG, 2 * ROTATION_SD_DEG))
    matrix = rotation_matrix(angles) / stretch  # output offsets -> template offsets
    shift = np.clip(rng.normal(0.0, 1.0, 3), -2.0, 2.0) * template.scale
    spread = rng.uniform(*ELASTIC_SD_MM) * template.scale
    centre = (np.asarray(shape) - 1) / 2.0

    # The output box whose voxels can land in the template's brain box, displacement
    # (clipped to 3 standard deviations) included.
    slack = 3.0 * spread + 1.0
    half = np.asarray(template.extent) / 2.0 + slack
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half - shift
    reach = corners @ np.linalg.inv(matrix).T
    lo = np.clip(np.floor(centre + reach.min(axis=0) - margin - 1).astype(int), 0, np.asarray(shape) - 1)
    hi = np.clip(np.ceil(centre + reach.max(axis=0) + margin + 2).astype(int), lo + 1, shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))

    box_shape = tuple(int(b - a) for a, b in zip(lo, hi))
    length = max(ELASTIC_LENGTH_MM * template.scale, 2.0)
    displacement = np.clip(smooth_noise(box_shape, length, rng, channels=3), -3.0, 3.0)
    displacement *= np.float32(spread)
    axes = [np.arange(a, b, dtype=np.float32) - np.float32(c) for a, b, c in zip(lo, hi, centre)]
    x, y, z = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    coordinates = np.empty((*box_shape, 3), dtype=np.float32)
    for k in range(3):
        row = matrix[k].astype(np.float32)
        coordinates[..., k] = displacement[k]
        coordinates[..., k] += row[0] * x + row[1] * y + (row[2] * z + np.float32(centre[k] + shift[k]))
    return Deformation(box, coordinates)  # type: ignore[arg-type]


def push_away(deformation: Deformation, centre: np.ndarray, radius: float, strength: float) -> None:
    """Mass effect, in place on `deformation.coordinates`: tissue around `centre` moves outwards.

    Each voxel within ~3 `radius` samples the template closer to the centre by a
    Gaussian-weighted fraction of its offset (at most `strength` < 1, which keeps the
    map one to one). Nothing moves out by more than `strength` x `radius` x e^-1/2,
    the brain's surface included.

    Args:
        deformation: from random_deformation (its coordinates are modified).
        centre: float [3], voxel position (x, y, z) in the output grid.
        radius: width of the push in voxels.
        strength: fraction of the offset removed at the centre, in [0, 1).
    """
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"push_away: strength must be in [0, 1), got {strength}")
    local = np.asarray(centre, dtype=np.float64) - deformation.origin
    coordinates = deformation.coordinates
    reach = math.ceil(3.0 * radius)
    lo = np.maximum(np.floor(local).astype(int) - reach, 0)
    hi = np.minimum(np.floor(local).astype(int) + reach + 1, coordinates.shape[:3])
    if np.any(hi <= lo):
        return
    offsets = [np.arange(a, b, dtype=np.float32) - np.float32(c) for a, b, c in zip(lo, hi, local)]
    dx, dy, dz = offsets[0][:, None, None], offsets[1][None, :, None], offsets[2][None, None, :]
    weight = np.float32(strength) * np.exp(-(dx * dx + dy * dy + dz * dz) / np.float32(2.0 * radius * radius))
    crop = coordinates[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    crop[..., 0] -= weight * dx
    crop[..., 1] -= weight * dy
    crop[..., 2] -= weight * dz


def warp(template: Template, deformation: Deformation) -> np.ndarray:
    """The template's tissue maps as this case sees them.

    Returns:
        float32 [3, X, Y, Z] in the template's grid: grey-matter, white-matter and
        brain probabilities (0 outside the deformation's box).
    """
    tissue = np.zeros_like(template.tissue)
    tissue[(slice(None), *deformation.box)] = _sample(template.tissue, deformation.coordinates)
    return tissue


def case_ventricles(template: Template, deformation: Deformation, tissue: np.ndarray) -> np.ndarray:
    """The ventricles as this case sees them, mass effect included.

    Args:
        template: the placed template.
        deformation: this case's deformation (after any push_away).
        tissue: float32 [3, X, Y, Z], warp(template, deformation).

    Returns:
        bool [X, Y, Z]: this case's CSF (probability > 0.5) voxels that sample the
        template's ventricles (nearest template voxel).
    """
    ventricles = np.zeros(tissue.shape[1:], dtype=bool)
    crop = tissue[(slice(None), *deformation.box)]
    csf = (crop[2] - crop[0] - crop[1]) > 0.5
    where = np.rint(deformation.coordinates[csf]).astype(np.intp)
    np.clip(where, 0, np.asarray(template.ventricles.shape) - 1, out=where)
    ventricles[deformation.box][csf] = template.ventricles[tuple(where.T)]
    return ventricles


def _sample(volumes: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """Trilinear sampling of `volumes` at `coordinates`, zero outside.

    Args:
        volumes: float32 [C, X, Y, Z].
        coordinates: float32 [X', Y', Z', 3], voxel positions (x, y, z) in `volumes`.

    Returns:
        float32 [C, X', Y', Z'].
    """
    size = np.asarray(volumes.shape[1:], dtype=np.float32)
    grid = torch.from_numpy(coordinates) * torch.from_numpy(2.0 / np.maximum(size - 1, 1)) - 1.0
    # grid_sample wants the last axis ordered (W, H, D) = (z, y, x).
    grid = grid.flip(-1)[None]
    sampled = torch.nn.functional.grid_sample(
        _tensor(volumes)[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return sampled[0].numpy()


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A torch view of `array`, which may be read-only: the callers here only read it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)
