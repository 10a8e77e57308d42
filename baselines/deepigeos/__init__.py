"""DeepIGeoS without its CRF (``deepigeos=``): P-Net, R-Net on geodesic maps of the edits,
their training (``simedit train deepigeos``) and its simulated training seeds."""
