"""What the networks' training shares: the fitting loop, the losses, brain crops and
tumour-biased patches."""
