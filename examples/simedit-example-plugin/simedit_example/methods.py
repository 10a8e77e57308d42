"""An example editing method: FLAIR-bright regions, chosen and removed by clicks."""

import numpy as np
from scipy import ndimage

from benchmark.registry import MethodContext, method_factory


class BrightRegions:
    """Round 0: the largest FLAIR-bright region. A positive click adds the bright region
    under it; a negative click removes the predicted region under it."""

    tools = frozenset({"selection"})

    def __init__(self, z: float) -> None:
        self.name, self.z = f"bright-regions:z={z:g}", z

    def predict(self, image, history):
        """bool [X, Y, Z] from image.channel("flair") (z-scored) and the clicks so far."""
        regions, n = ndimage.label(image.channel("flair") > self.z)
        sizes = np.bincount(regions.ravel(), minlength=n + 1)[1:]
        mask = regions == 1 + int(np.argmax(sizes)) if n else np.zeros(image.shape, bool)
        for click in history.of_tool("selection"):
            if click.positive and regions[click.voxel]:
                mask |= regions == regions[click.voxel]
            elif not click.positive and mask[click.voxel]:
                parts, _ = ndimage.label(mask)
                mask &= parts != parts[click.voxel]
        return mask


@method_factory(argument="none", tools={"selection"}, usage="bright[z=1.5]")
def make(context: MethodContext, *, z: float = 1.5) -> BrightRegions:
    """FLAIR-bright regions above z (z-scored), chosen by positive clicks, removed by negative ones."""
    return BrightRegions(float(z))
