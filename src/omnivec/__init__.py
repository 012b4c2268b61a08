"""omnivec: self-hosted multimodal embeddings (text, images, audio, video, PDF) in one space.

Importing omnivec is cheap: models and their heavy libraries load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from omnivec.config import Settings
from omnivec.content import Content, Part
from omnivec.embedder import Embedder, embed
from omnivec.errors import (
    AccessDenied,
    DecodeError,
    InvalidInput,
    LimitExceeded,
    MissingDependency,
    ModelMismatch,
    ModelNotFound,
    OmnivecError,
    UnsupportedMedia,
)
from omnivec.models.base import Embeddings, ModelInfo

__all__ = [
    "AccessDenied",
    "Content",
    "DecodeError",
    "Embedder",
    "Embeddings",
    "InvalidInput",
    "LimitExceeded",
    "MissingDependency",
    "ModelInfo",
    "ModelMismatch",
    "ModelNotFound",
    "OmnivecError",
    "Part",
    "Settings",
    "UnsupportedMedia",
    "__version__",
    "embed",
]
