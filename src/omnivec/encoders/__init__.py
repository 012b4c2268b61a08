"""Encoder backends: each turns decoded samples of one or more modalities into arrays."""

from __future__ import annotations

from omnivec.encoders.registry import EncoderInfo, registered_encoders


def catalog() -> list[EncoderInfo]:
    """Capability records of every built-in backend (imports the modules, not their weights)."""
    import omnivec.encoders.asr
    import omnivec.encoders.convnet
    import omnivec.encoders.minilm
    import omnivec.encoders.ocr  # noqa: F401

    return [cls.info for cls in registered_encoders().values()]
