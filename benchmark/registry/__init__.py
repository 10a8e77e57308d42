"""Methods and users by name: one mechanism for simedit's own and everyone else's.

A spec (:mod:`benchmark.specs`) names a *plug-in*: an entry point of the group
``simedit.methods`` or ``simedit.users`` (simedit's own pyproject.toml registers the
built-ins there; an installed package registers its own the same way), or an import path
``module:attribute`` (the module importable from the current folder or ``PYTHONPATH``).

The contract, all of it:

- A **method plug-in** is a callable ``factory(context: MethodContext, **options) ->
  Method`` (a function, or a class whose ``__init__`` takes the context first). Options
  are its keyword parameters, written ``NAME[KEY=VALUE,...]`` in a spec. It may carry
  attributes the registry reads without calling it (:func:`method_factory` sets them):
  ``argument`` (what may follow ``=``: :data:`ARGUMENTS`), ``usage`` (how to spell the
  spec), ``tools`` (for ``simedit methods``), ``trained_on`` (``arg -> case ids`` its
  checkpoint learned from, for ``cases: held-out``).
- A **user plug-in** is a class (or factory) called with the spec's options as keyword
  arguments, and ``mode="test"|"train"`` if it has a ``mode`` parameter; it returns a
  :class:`~benchmark.policy.Policy`.

What comes back is checked against the Protocol (``name``, ``tools``, ``predict``;
``name``, ``propose``), and every problem raises :class:`PluginError` (a ValueError),
one line naming the plug-in and what to fix.

The lookup is :mod:`~benchmark.registry.plugins`, the method side
:mod:`~benchmark.registry.methods`, the user side :mod:`~benchmark.registry.users`;
every public name is importable from ``benchmark.registry`` as well.
"""

from benchmark.registry.methods import (ARGUMENTS, MethodContext, MethodOptions, check_method, checkpoint_digests,
                                        make_method, method_factory, resolve_method, trained_cases)
from benchmark.registry.plugins import GROUPS, Plugin, PluginError, find, plugin_provenance, registered
from benchmark.registry.users import MODES, check_policy, check_user, make_user, resolve_user

__all__ = ["ARGUMENTS", "GROUPS", "MODES", "MethodContext", "MethodOptions", "Plugin", "PluginError", "check_method",
           "check_policy", "check_user", "checkpoint_digests", "find", "make_method", "make_user", "method_factory",
           "plugin_provenance", "registered", "resolve_method", "resolve_user", "trained_cases"]
