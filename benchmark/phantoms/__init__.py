"""The embedded data set: BraTS-like phantoms, generated on the spot (nothing is downloaded).

- :mod:`~benchmark.phantoms.phantom`: :func:`make_phantom`, one case in memory;
- :mod:`~benchmark.phantoms.synth`: :func:`synthesize`, cases written as NIfTI files in a layout;
- its parts: ``anatomy`` (MNI152 brain, deformed per case), ``tumour`` (foci, core, rim),
  ``oedema``, ``mimics`` (unlabelled FLAIR-bright lesions), ``contrast`` (the four
  modalities), ``noise`` (smooth fields);
- :mod:`~benchmark.phantoms.corruption`: predictions with the errors of an automatic
  segmentation, for benchmarks and tests.
"""

from benchmark.phantoms.phantom import Phantom, make_phantom, phantom_rng
from benchmark.phantoms.synth import synthesize

__all__ = ["Phantom", "make_phantom", "phantom_rng", "synthesize"]
