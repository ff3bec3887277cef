"""Numbers published in the papers this repository reproduces, one module per paper (shown beside ours, never
used to compute anything)."""
