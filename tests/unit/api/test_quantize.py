"""Quantized encodings: ranges, the documented inverses, bit packing."""

from __future__ import annotations

import numpy as np
import pytest

from omnivec.api.quantize import parse_quantization, quantize
from omnivec.errors import InvalidInput


@pytest.fixture
def unit() -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4, 384)).astype(np.float32)
    v[0, :3] = [1.0, -1.0, 0.0]  # extremes
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_int8_scale_and_inverse(unit: np.ndarray) -> None:
    q = quantize(unit, "int8")
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() <= 127
    np.testing.assert_allclose(q / 127.0, unit, atol=0.5 / 127 + 1e-6)


def test_uint8_scale_and_inverse(unit: np.ndarray) -> None:
    q = quantize(unit, "uint8")
    assert q.dtype == np.uint8
    np.testing.assert_allclose(q / 127.5 - 1.0, unit, atol=0.5 / 127.5 + 1e-6)
    assert quantize(np.array([[-1.0, 0.0, 1.0]], np.float32), "uint8").tolist() == [[0, 128, 255]]


def test_binary_packs_signs(unit: np.ndarray) -> None:
    q = quantize(unit, "binary")
    assert q.shape == (4, 48) and q.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(q, axis=1).astype(bool), unit > 0)
    assert quantize(np.ones((1, 10), np.float32), "binary").tolist() == [[255, 192]]  # zero-padded tail


def test_float_is_unchanged(unit: np.ndarray) -> None:
    assert quantize(unit, "float") is unit


def test_parse() -> None:
    assert parse_quantization(None) == "float" and parse_quantization("INT8") == "int8"
    with pytest.raises(InvalidInput, match="expected one of: float, int8, uint8, binary"):
        parse_quantization("int4")
