"""A port of VISTA3D's next-point rule for iterative point evaluation, for tests only.

Ported from github.com/Project-MONAI/VISTA, commit
f73d7c20a73b5e6371f2879e38919d71fee34cf8: ``get_next_points_val``
(``vista3d/scripts/utils/workflow_utils.py``), ``erode3d``
(``vista3d/scripts/utils/trans_utils.py``) and the fallback of
``vista3d/scripts/validation/val_multigpu_point_iterative.py`` (retry with
``erosion2d=True`` when no point was found); and from github.com/Project-MONAI/MONAI,
commit d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83,
``get_largest_connected_component_mask`` (``monai/transforms/utils.py``, its numpy
path).

Kept as written: torch tensors, the erosion as a float32 ``conv3d`` of the map padded
with ones, the float32 centroid and squared distances, the (pos_id, neg_id) = (1, 0)
labels of a zero-shot class (``mapped=False``), label -1 for "no point".

Changed: one class only (the tumour, label value 1; the loop over prompt classes and
the background skip dropped); ``skimage.measure.label`` replaced by
``scipy.ndimage.label`` with a full 3x3x3 structure (the same components, numbered the
same way, in C order of their first voxel); ``np.argsort(..., kind="stable")`` and
``torch.sort(..., stable=True)`` pin the order of ties, which the original's default
sorts leave to the implementation.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def erode3d(input_tensor, erosion=3):
    erosion = tuple(erosion) if isinstance(erosion, (tuple, list)) else (erosion,) * 3
    structuring_element = torch.ones(1, 1, erosion[0], erosion[1], erosion[2])
    input_padded = F.pad(
        input_tensor.float().unsqueeze(0).unsqueeze(0),
        (erosion[2] // 2, erosion[2] // 2, erosion[1] // 2, erosion[1] // 2, erosion[0] // 2, erosion[0] // 2),
        mode="constant",
        value=1.0,
    )
    output = F.conv3d(input_padded, structuring_element, padding=0)
    output = torch.where(output == torch.sum(structuring_element), 1.0, 0.0)
    return output.squeeze(0).squeeze(0)


def get_largest_connected_component_mask(img, connectivity=None, num_components=1):
    img_ = img.numpy()
    features, num_features = ndimage.label(img_, structure=np.ones((3,) * img_.ndim))
    if num_features <= num_components:
        out = img_.astype(bool)
    else:
        nonzeros = features[np.nonzero(features)]
        features_to_keep = np.argsort(np.bincount(nonzeros), kind="stable")[::-1]
        features_to_keep = features_to_keep[:num_components]
        out = np.isin(features, features_to_keep)
    return torch.as_tensor(out)


def _point(mask, use_center):
    plabelpoints = torch.nonzero(mask)
    if len(plabelpoints) == 0:
        return None
    if use_center:
        pdis = ((plabelpoints - plabelpoints.float().mean(0)) ** 2).sum(-1)
        _, sorted_indices = torch.sort(pdis, stable=True)
        return plabelpoints[sorted_indices[0]]
    return random.choices(plabelpoints, k=1)[0]


def get_next_points_val(pred, gt, pred_thresh=0.5, use_center=False, erosion2d=False):
    """One class: pred float [X, Y, Z], gt bool [X, Y, Z]. Returns (point [3], label)."""
    neg_id, pos_id = 0, 1  # get_point_label(-1)
    erosion = (3, 3, 1) if erosion2d else (3, 3, 3)
    fn_mask = torch.logical_and(gt, pred < pred_thresh)
    fn_mask = get_largest_connected_component_mask(erode3d(fn_mask, erosion=erosion))
    fp_mask = torch.logical_and(torch.logical_not(gt), pred > pred_thresh)
    fp_mask = get_largest_connected_component_mask(erode3d(fp_mask, erosion=erosion))
    if fn_mask.sum() >= fp_mask.sum():
        point, point_label = _point(fn_mask, use_center), pos_id
    else:
        point, point_label = _point(fp_mask, use_center), neg_id
    if point is None:
        return torch.tensor([0, 0, 0]), torch.tensor(-1)
    return point, torch.tensor(point_label)


def port_click(label, prediction, use_center=True, fallback_2d=True):
    """(voxel (x, y, z), positive) of VISTA3D's next point for bool [X, Y, Z] arrays,
    or None when it stops (no point after the 3D and, with ``fallback_2d``, the 2D
    erosion)."""
    pred, gt = torch.as_tensor(prediction.astype(np.float32)), torch.as_tensor(label)
    point, point_label = get_next_points_val(pred, gt, use_center=use_center)
    if point_label == -1 and fallback_2d:
        point, point_label = get_next_points_val(pred, gt, use_center=use_center, erosion2d=True)
    if point_label == -1:
        return None
    return tuple(int(c) for c in point), bool(point_label == 1)
