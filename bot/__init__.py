"""The nowbot service: configuration, CLI, commands, adapters and scheduler."""

import os

# The text sampler does many small matrix products; OpenBLAS threads only add contention there
# (measured: 16 candidates 87 ms with one thread, 1,080 ms median with the default on 2 busy cores).
# Set before NumPy loads; an operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
