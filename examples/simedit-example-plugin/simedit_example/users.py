"""An example simulated user: one click near the middle of the largest error, a little off."""

import numpy as np
from scipy import ndimage

from benchmark.edits import Click


class Sloppy:
    """One click per round at the centre of mass of the largest error component, moved
    by Gaussian jitter of ``jitter_mm`` per axis; done once Dice reaches ``target_dice``.
    The click's sign is the ground truth where it lands (a slip can land on right voxels)."""

    name = "sloppy"

    def __init__(self, jitter_mm: float = 2.0, target_dice: float = 0.9) -> None:
        self.jitter_mm, self.target_dice = float(jitter_mm), float(target_dice)

    def propose(self, state, rng):
        """[Click] or [] (done); every random draw comes from ``rng``."""
        label, prediction = state.label, state.prediction
        both = np.count_nonzero(label) + np.count_nonzero(prediction)
        if 2 * np.count_nonzero(label & prediction) >= self.target_dice * both:
            return []
        wrong, n = ndimage.label(label ^ prediction, structure=np.ones((3, 3, 3)))
        if n == 0:
            return []
        largest = 1 + int(np.argmax(np.bincount(wrong.ravel())[1:]))
        centre = np.array(ndimage.center_of_mass(wrong == largest))
        centre += rng.normal(0.0, self.jitter_mm, 3) / np.asarray(state.spacing)
        voxel = tuple(int(v) for v in np.clip(np.round(centre), 0, np.array(label.shape) - 1))
        return [Click(voxel, positive=bool(label[voxel]))]
