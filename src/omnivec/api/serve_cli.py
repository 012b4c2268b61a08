"""``omnivec serve``: settings from flags, ``OMNIVEC_*`` and a TOML file; the app under uvicorn.

Registered in :mod:`omnivec.cli` as ``app.command()(serve)``; ``python -m
omnivec.api.serve_cli`` runs the same command on its own.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from omnivec.api.settings import ConfigError, ServerSettings, check_exposure, load_settings

logger = logging.getLogger(__name__)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def build_settings(
    config: Path | None,
    host: str | None,
    port: int | None,
    api_key: list[str] | None,
    allow: list[Path] | None,
    model: str | None,
    data_dir: Path | None,
    index: Path | None = None,
) -> ServerSettings:
    """Flags over ``OMNIVEC_*`` over the TOML file; ``--allow`` adds to the configured roots."""
    flags = {"host": host, "port": port, "model": model, "data_dir": data_dir, "api_keys": api_key or None,
             "index_dir": index}  # fmt: skip
    settings = load_settings(config, flags)
    if allow:
        settings = replace(
            settings, allowed_roots=(*settings.allowed_roots, *(a.expanduser().resolve() for a in allow))
        )
    check_exposure(settings)
    return settings


def serve(
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface to bind (default 127.0.0.1; others need --api-key)."),
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port (default 8080).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with server settings (see docs/server.md).")
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="Accepted API key; repeat for several. Prefer OMNIVEC_API_KEYS (flags show in `ps`).",
        ),
    ] = None,
    allow: Annotated[
        list[Path] | None, typer.Option("--allow", help="Folder that fileData URIs may read; repeatable.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model to serve (default lite).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where uploaded files are kept.")
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Index folder to serve at / and /v1/search (OMNIVEC_INDEX)."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Build (once, in ~/.cache/omnivec) and serve a demo index of sample media."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve Gemini- and OpenAI-compatible embedding APIs over HTTP."""
    import uvicorn

    from omnivec.api.app import create_app
    from omnivec.errors import OmnivecError

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s", force=True)
    try:
        settings = build_settings(config, host, port, api_key, allow, model, data_dir, index)
        embedder = None
        if demo:
            settings, embedder = _with_demo(settings)
        app = create_app(settings, embedder)
    except (ConfigError, OmnivecError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    if settings.index_dir is not None:
        typer.echo(f"search page: http://{settings.host}:{settings.port}/  (index {settings.index_dir})")
    if not settings.api_keys:
        logger.warning("no API keys configured: bound to %s (loopback) only", settings.host)
    options: dict[str, Any] = {
        "log_level": log_level.lower(),
        "timeout_graceful_shutdown": settings.request_timeout,
    }
    uvicorn.run(app, host=settings.host, port=settings.port, **options)


def _with_demo(settings: ServerSettings) -> tuple[ServerSettings, Any]:
    """Build the demo index (skipping unchanged files) and point the settings at it."""
    from omnivec.embedder import Embedder
    from omnivec.index.demo import build_demo, default_index_dir, default_media_dir

    media = default_media_dir()
    settings = replace(
        settings, index_dir=default_index_dir(), allowed_roots=(*settings.allowed_roots, media)
    )
    embedder = Embedder(settings.model, settings.library)
    typer.echo(f"building the demo index from {media} (first run only; later runs skip unchanged files)")
    index_dir, report = build_demo(embedder, media, settings.index_dir)
    typer.echo(
        f"demo index {index_dir}: {report.added} added, {report.skipped} unchanged, {report.chunks} chunks"
    )
    return settings, embedder


def main() -> None:
    typer.run(serve)


if __name__ == "__main__":
    main()
