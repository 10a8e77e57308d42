"""A port of the CVPR 2025 interactive 3D challenge's user simulation, for the tests.

Written from reading ``CVPR25_iter_eval.py`` (compute_edt, sample_coord, the click loop
for one class) and ``get_boxes.py`` (mask2D_to_bbox, mask3D_to_bbox) of
JunMa11/CVPR-MedSegFMCompetition, kept close to them: scipy's EDT (their CPU path),
skimage's block_reduce, cc3d, ``np.random.seed(42)`` and ``np.random.choice`` on numpy's
global state (saved and restored around each use, so the tests can check that simedit's
users leave it alone). Differences, all for testing: the 60M-voxel threshold and the
EDT's sampling are parameters, the box shift is passed in instead of drawn, and the
arrays are one class's masks (uint8/bool [D, H, W], SimpleITK's z, y, x).
"""

from __future__ import annotations

import contextlib

import cc3d
import numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.measure import block_reduce

LARGE_ROI = 60000000


@contextlib.contextmanager
def saved_global_state():
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def sample_coord(edt):
    with saved_global_state():
        np.random.seed(42)
        max_val = edt.max()
        max_coords = np.argwhere(edt == max_val)
        chosen_index = max_coords[np.random.choice(len(max_coords))]
    return tuple(int(c) for c in chosen_index)


def compute_edt(error_component, large_roi=LARGE_ROI, sampling=None):
    coords = np.argwhere(error_component)
    min_coords = coords.min(axis=0)
    max_coords = coords.max(axis=0) + 1
    crop_shape = max_coords - min_coords
    padding = np.maximum((crop_shape * 0.25).astype(int), 1)
    padded_shape = crop_shape + 2 * padding
    center_crop = np.zeros(padded_shape, dtype=np.uint8)
    center_crop[
        padding[0]:padding[0] + crop_shape[0],
        padding[1]:padding[1] + crop_shape[1],
        padding[2]:padding[2] + crop_shape[2],
    ] = error_component[
        min_coords[0]:max_coords[0],
        min_coords[1]:max_coords[1],
        min_coords[2]:max_coords[2],
    ]
    large_roi_hit = False
    if center_crop.shape[0] * center_crop.shape[1] * center_crop.shape[2] > large_roi:
        center_crop = block_reduce(center_crop, block_size=(2, 2, 2), func=np.max)
        large_roi_hit = True
    edt = distance_transform_edt(center_crop, sampling=sampling)
    if large_roi_hit:
        edt = edt.repeat(2, axis=0).repeat(2, axis=1).repeat(2, axis=2)
    dist_cropped = edt[
        padding[0]:padding[0] + crop_shape[0],
        padding[1]:padding[1] + crop_shape[1],
        padding[2]:padding[2] + crop_shape[2],
    ]
    dist_full = np.zeros_like(error_component, dtype=dist_cropped.dtype)
    dist_full[
        min_coords[0]:max_coords[0],
        min_coords[1]:max_coords[1],
        min_coords[2]:max_coords[2],
    ] = dist_cropped
    return dist_full


def click(gts_cls, segs_cls, large_roi=LARGE_ROI, sampling=None):
    """The click loop's body for one class: ((z, y, x), positive) or None (perfect).

    The arrays are made C-contiguous, as np.load gives the challenge's: cc3d numbers
    components in memory order, so a transposed (Fortran-ordered) view would change
    which of equal largest components comes first.
    """
    segs_cls = np.ascontiguousarray(segs_cls).astype(np.uint8)
    gts_cls = np.ascontiguousarray(gts_cls).astype(np.uint8)
    error_mask = (segs_cls != gts_cls).astype(np.uint8)
    if np.sum(error_mask) == 0:
        return None
    errors = cc3d.connected_components(error_mask, connectivity=26)
    component_sizes = np.bincount(errors.flat)
    component_sizes[0] = 0
    largest_component_error = np.argmax(component_sizes)
    largest_component = errors == largest_component_error
    edt = compute_edt(largest_component, large_roi, sampling)
    edt *= largest_component
    if np.sum(edt) == 0:
        edt = largest_component
    center = sample_coord(edt)
    if gts_cls[center] == 0:
        assert segs_cls[center] == 1
        positive = False
    else:
        assert segs_cls[center] == 0
        positive = True
    assert largest_component[center]
    return center, positive


def mask2D_to_bbox(gt2D, bbox_shift):
    y_indices, x_indices = np.where(gt2D > 0)
    x_min, x_max = np.min(x_indices), np.max(x_indices)
    y_min, y_max = np.min(y_indices), np.max(y_indices)
    H, W = gt2D.shape
    scale_y, scale_x = gt2D.shape
    bbox_shift_x = int(bbox_shift * scale_x / 256)
    bbox_shift_y = int(bbox_shift * scale_y / 256)
    x_min = max(0, x_min - bbox_shift_x)
    x_max = min(W - 1, x_max + bbox_shift_x)
    y_min = max(0, y_min - bbox_shift_y)
    y_max = min(H - 1, y_max + bbox_shift_y)
    return np.array([x_min, y_min, x_max, y_max])


def mask3D_to_bbox(gt3D, bbox_shift):
    b_dict = {}
    z_indices, y_indices, x_indices = np.where(gt3D > 0)
    z_min, z_max = np.min(z_indices), np.max(z_indices)
    z_indices = np.unique(z_indices)
    z_middle = z_indices[len(z_indices) // 2]
    D, H, W = gt3D.shape
    b_dict["z_min"] = z_min
    b_dict["z_max"] = z_max
    b_dict["z_mid"] = z_middle
    gt_mid = gt3D[z_middle]
    x_min, y_min, x_max, y_max = mask2D_to_bbox(gt_mid, bbox_shift)
    b_dict["z_mid_x_min"] = x_min
    b_dict["z_mid_y_min"] = y_min
    b_dict["z_mid_x_max"] = x_max
    b_dict["z_mid_y_max"] = y_max
    assert z_min == max(0, z_min)
    assert z_max == min(D - 1, z_max)
    return b_dict


# --- test volumes (not part of the port) -------------------------------------------


def random_affine(rng, zooms=(1.0, 1.0, 1.0)):
    """float [4, 4]: a random permutation and flips of the file's voxel axes, scaled by ``zooms``."""
    perm, flips = rng.permutation(3), rng.choice([-1.0, 1.0], 3)
    affine = np.eye(4)
    affine[:3, :3] = 0
    for axis in range(3):
        affine[perm[axis], axis] = flips[axis] * zooms[axis]
    return affine


def blobs(rng, shape, fraction, sigma=None):
    """bool ``shape``: the top ``fraction`` of smoothed noise (random blobs)."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape), rng.uniform(0.8, 2.2) if sigma is None else sigma)
    return field > np.quantile(field, 1 - fraction)


def random_shape(rng, low=12, high=30):
    return tuple(int(n) for n in rng.integers(low, high + 1, 3))
