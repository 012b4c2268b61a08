"""Bytes -> decoded samples: real type from bytes, safe file reads, image, audio, video and PDF decoding."""

from __future__ import annotations
