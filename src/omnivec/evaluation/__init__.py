"""Evaluation: synthetic test media, datasets and retrieval metrics."""

from __future__ import annotations
