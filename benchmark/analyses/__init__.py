"""The analyses behind the seed paper's Figs. 4-6, beside the experiments' runs.

- :mod:`~benchmark.analyses.panels` (Fig. 4): each tool's simulated user, one round;
- :mod:`~benchmark.analyses.sweep` (Fig. 5): the adjustment tool over a range of K;
- :mod:`~benchmark.analyses.robustness` (Fig. 6): deliberately wrong edits.

Each has ``run_*`` (cases x methods -> tidy CSVs, a compressed .npz of the axial slices
and a status CSV in OUT/analyses), ``read_*`` (those files back, None when absent) and
``plot_*`` (the figure from the files alone). Only ``plot_*`` imports matplotlib.
"""
