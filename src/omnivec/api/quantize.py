"""Output encodings of unit vectors: float, int8, uint8 and binary (an omnivec extension).

* ``int8``: ``clip(round(v * 127), -127, 127)``; divide by 127 to get the vector back (±0.004).
* ``uint8``: ``clip(round((v + 1) * 127.5), 0, 255)``; ``q / 127.5 - 1`` inverts it.
* ``binary``: ``packbits(v > 0)``, big-endian bit order, 8 dimensions per byte as 0-255
  integers; the last byte is zero-padded when the dimension is not a multiple of 8.
  Compare binary vectors by Hamming distance.
"""

from __future__ import annotations

from typing import Literal, cast, get_args

import numpy as np

from omnivec.errors import InvalidInput

Quantization = Literal["float", "int8", "uint8", "binary"]
QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)


def parse_quantization(name: str | None) -> Quantization:
    """Accept ``int8``/``INT8`` etc.; None means float.

    Raises:
        InvalidInput: an unknown name.
    """
    if name is None:
        return "float"
    lowered = name.lower()
    if lowered not in QUANTIZATIONS:
        raise InvalidInput(f"unknown quantization {name!r}; expected one of: {', '.join(QUANTIZATIONS)}")
    return cast(Quantization, lowered)


def quantize(vectors: np.ndarray, kind: Quantization) -> np.ndarray:
    """(N, D) float32 unit vectors -> (N, D) int8/uint8, (N, ceil(D/8)) uint8 bits, or unchanged."""
    if kind == "int8":
        return np.clip(np.rint(vectors * 127.0), -127, 127).astype(np.int8)
    if kind == "uint8":
        return np.clip(np.rint((vectors + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if kind == "binary":
        return np.packbits(vectors > 0, axis=-1)  # (N, D) bool -> (N, ceil(D/8)) uint8
    return vectors


def as_lists(vectors: np.ndarray, kind: Quantization) -> list[list[float]] | list[list[int]]:
    """JSON-ready rows: floats, or integers for the quantized encodings."""
    return quantize(vectors, kind).tolist()
