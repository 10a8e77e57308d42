"""The report of a results folder: statistics tables, figures and a front page.

``build_report(folder)`` writes ``folder/report/`` (figures/, tables/, index.md,
index.html) from a protocol folder or a plain run folder; ``load_rounds`` and
``load_sessions`` give their tables with an ``experiment`` column.
"""

from benchmark.report.build import build_report
from benchmark.report.load import describe, load_rounds, load_sessions

__all__ = ["build_report", "describe", "load_rounds", "load_sessions"]
