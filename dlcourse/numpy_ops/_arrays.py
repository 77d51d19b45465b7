"""Input conversion shared by the NumPy modules (kept apart so they can import it without cycles)."""
from __future__ import annotations

import numpy as np


def as_numeric_array(value, name):
    """``np.asarray(value)``, refusing non-numeric arrays; booleans become int64 0/1."""
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)  # count, as the torch twin does; bool sums would saturate at True
    return arr
