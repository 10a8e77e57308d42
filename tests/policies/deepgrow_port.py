"""A port of MONAI DeepGrow's click simulation, for tests only.

Ported from github.com/Project-MONAI/MONAI, commit
d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83, ``monai/apps/deepgrow/transforms.py``:
``FindDiscrepancyRegionsd.disparity`` and ``AddRandomGuidanced`` (``randomize``,
``find_guidance``, ``add_guidance``), kept as written: the [2, C, X, Y, Z] discrepancy
with a channel axis, scipy's ``distance_transform_cdt`` on the 4D map, the weights
``exp(d) - 1`` normalised over the error voxels, ``R.choice(idx, size=1, p=...)``,
the guidance ``[distance, x, y, z]`` (MONAI overwrites the channel index with the
distance "for debug").

Changed: ``self.R`` is a numpy Generator given to the constructor (MONAI's is a
RandomState; both ``choice`` methods draw one uniform number and search the
normalised cumulative sum); ``find_guidance`` is split so that its probabilities can
be read (``guidance_distribution``); no json round trip of the guidance.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_cdt


def disparity(label, pred):
    """FindDiscrepancyRegionsd.disparity: [pos_disparity, neg_disparity], float32."""
    label = (label > 0.5).astype(np.float32)
    pred = (pred > 0.5).astype(np.float32)
    disparity = label - pred
    pos_disparity = (disparity > 0).astype(np.float32)
    neg_disparity = (disparity < 0).astype(np.float32)
    return [pos_disparity, neg_disparity]


class AddRandomGuidance:
    def __init__(self, rng: np.random.Generator):
        self.R = rng
        self._will_interact = None

    def randomize(self, probability):
        self._will_interact = self.R.choice([True, False], p=[probability, 1.0 - probability])

    @staticmethod
    def guidance_distribution(discrepancy):
        """find_guidance's first lines: (distance, idx, p) over the flattened map."""
        distance = distance_transform_cdt(discrepancy).flatten()
        probability = np.exp(distance) - 1.0
        idx = np.where(discrepancy.flatten() > 0)[0]
        return distance, idx, probability[idx] / np.sum(probability[idx])

    def find_guidance(self, discrepancy):
        distance, idx, p = self.guidance_distribution(discrepancy)
        if np.sum(discrepancy > 0) > 0:
            seed = self.R.choice(idx, size=1, p=p)
            dst = distance[seed]
            g = np.asarray(np.unravel_index(seed, discrepancy.shape)).transpose().tolist()[0]
            g[0] = dst[0]
            return g
        return None

    def add_guidance(self, discrepancy, will_interact):
        if not will_interact:
            return None, None
        pos_discr = discrepancy[0]
        neg_discr = discrepancy[1]
        can_be_positive = np.sum(pos_discr) > 0
        can_be_negative = np.sum(neg_discr) > 0
        correct_pos = np.sum(pos_discr) >= np.sum(neg_discr)
        if correct_pos and can_be_positive:
            return self.find_guidance(pos_discr), None
        if not correct_pos and can_be_negative:
            return None, self.find_guidance(neg_discr)
        return None, None


def discrepancy_of(label: np.ndarray, prediction: np.ndarray) -> list[np.ndarray]:
    """MONAI's discrepancy for bool [X, Y, Z] arrays: two [1, X, Y, Z] maps (channel first)."""
    return disparity(label[None].astype(np.float32), prediction[None].astype(np.float32))


def port_click(label, prediction, rng, probability=1.0):
    """(voxel (x, y, z), positive) as MONAI would click, or None; draws from ``rng``
    exactly as MONAI does (the will-interact draw first)."""
    t = AddRandomGuidance(rng)
    t.randomize(probability)
    pos, neg = t.add_guidance(discrepancy_of(label, prediction), t._will_interact)
    g = pos if pos else neg
    return None if not g else (tuple(int(c) for c in g[1:]), bool(pos))


class _Recorder(AddRandomGuidance):
    """add_guidance's choice of map, returning find_guidance's distribution instead of a draw."""

    def find_guidance(self, discrepancy):
        return [self.guidance_distribution(discrepancy)]


def port_probabilities(label, prediction):
    """(positive, p float64 [X, Y, Z]) of MONAI's draw, or None without error."""
    pos, neg = _Recorder(None).add_guidance(discrepancy_of(label, prediction), True)
    if not pos and not neg:
        return None
    _, idx, p = (pos or neg)[0]
    out = np.zeros(label.size)
    out[idx] = p
    return bool(pos), out.reshape(label.shape)
