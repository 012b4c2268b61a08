"""The HTTP edge: Gemini- and OpenAI-compatible embedding APIs over the serving engine.

``create_app(settings)`` builds the FastAPI app; ``omnivec serve`` runs it under uvicorn.
"""

from __future__ import annotations

from omnivec.api.settings import ServerSettings, load_settings

__all__ = ["ServerSettings", "create_app", "load_settings"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # imports FastAPI and the model stack only when asked for
        from omnivec.api.app import create_app

        return create_app
    raise AttributeError(name)
