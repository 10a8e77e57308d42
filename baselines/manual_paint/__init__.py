"""Manual paint: edits applied literally to a first mask, the lower bar (``manual-paint``)."""
