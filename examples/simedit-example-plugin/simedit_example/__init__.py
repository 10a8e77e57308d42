"""An example simedit plug-in package: one editing method, one simulated user."""
