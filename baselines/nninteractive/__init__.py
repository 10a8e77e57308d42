"""nnInteractive (MIC-DKFZ) as a simedit editing method: ``nninteractive=MODEL_DIR``.

An optional extra (``pip install 'simedit[nninteractive]'``, on the same pip line as
torch): :mod:`baselines.nninteractive.method` imports nnInteractive only when the method
is built, so this package imports without it. :mod:`baselines.nninteractive.edits` turns
simedit's edits into nnInteractive's interactions.
"""
