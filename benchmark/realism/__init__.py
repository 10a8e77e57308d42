"""Simulated users that behave like people: imprecise, slipping, with a limited view.

- :mod:`benchmark.realism.knobs`: the knobs (:class:`Realism`, all off by default), their
  spelling as user options, ranges for populations of users;
- :mod:`benchmark.realism.clicks`, :mod:`benchmark.realism.strokes`,
  :mod:`benchmark.realism.view`: what each knob does, as pure functions;
- :mod:`benchmark.realism.user`: :class:`RealisticUser`, any user with knobs applied.
"""

from benchmark.realism.knobs import KNOBS, Population, Realism, population, split_options
from benchmark.realism.user import RealisticUser

__all__ = ["KNOBS", "Population", "Realism", "RealisticUser", "population", "split_options"]
