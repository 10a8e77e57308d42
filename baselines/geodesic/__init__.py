"""The geodesic distance transform (a PyTorch raster scan), its exact Dijkstra reference
and ``simedit bench geodesic``."""
