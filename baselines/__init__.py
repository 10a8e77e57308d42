"""Editing methods, one folder each (``manual_paint``, ``editing_network`` for F and G,
``deepigeos``, ``external`` for programs and challenge containers, ``nninteractive``),
and the parts they share, named for what they are (``networks``, ``training``,
``geodesic``, ``initial``). Each method's plug-in factory is registered in simedit's
pyproject.toml, as a plug-in package registers its own."""
