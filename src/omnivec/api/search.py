"""Index routes and the search page: ingest, delete, search (by text or by file), media, thumbnails.

Served when the settings name an index folder (``--index DIR``, ``OMNIVEC_INDEX``, or ``--demo``).
The index is opened on first use with the served model's embedder, so the app factory only
includes :data:`router`. Index work blocks (embedding, LanceDB I/O, decoding), so it runs in
the thread pool. ``/v1/index/media`` and ``/v1/index/thumbnail`` read only files that are in the
index, which is what makes them safe to expose: a path that is not an indexed source is 404.
The page at ``/`` is static HTML/JS/CSS shipped in :mod:`omnivec.web`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from omnivec.api.settings import ServerSettings
from omnivec.content import Part
from omnivec.errors import InvalidInput, NotFound
from omnivec.index.index import Index
from omnivec.index.ingest import SUFFIX_MIME, IngestReport
from omnivec.index.search import Hit
from omnivec.limits import Limits
from omnivec.media.files import resolve_allowed

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 320  # longest side of a thumbnail, in pixels
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}

router = APIRouter()
_OPEN_LOCK = threading.Lock()


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1, le=200)
    modalities: list[str] = []
    path: str | None = None  # glob on sources, see omnivec.index.search.match_sources


class PathsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)


def index_of(request: Request) -> Index:
    """The app's index, opened on first use with the served model's embedder.

    Raises:
        NotFound: the server was started without an index.
    """
    state = request.app.state
    index: Index | None = getattr(state, "index", None)
    if index is not None:
        return index
    settings: ServerSettings = state.settings
    if settings.index_dir is None:
        raise NotFound("this server has no index; start it with `omnivec serve --index DIR` or `--demo`")
    with _OPEN_LOCK:
        if getattr(state, "index", None) is None:
            state.index = Index.open(settings.index_dir, state.served.embedder)
            logger.info("serving index %s", settings.index_dir)
        return state.index  # type: ignore[no-any-return]


def _limits(request: Request) -> Limits:
    return request.app.state.served.limits  # type: ignore[no-any-return]


def hit_body(hit: Hit) -> dict[str, Any]:
    """One result as the page and clients see it."""
    pages, seconds = hit.pages, hit.seconds
    body: dict[str, Any] = {
        "score": round(hit.score, 6),
        "source": hit.source,
        "name": Path(hit.source).name,
        "modality": hit.modality,
        "kind": hit.chunk.kind,
        "where": hit.where(),
        "snippet": hit.snippet(),
        "media_url": "/v1/index/media?source=" + quote(hit.source, safe=""),
    }
    if pages:
        body["page_start"], body["page_end"] = pages
    if seconds:
        body["start_s"], body["end_s"] = round(seconds[0], 3), round(seconds[1], 3)
    thumb = "/v1/index/thumbnail?source=" + quote(hit.source, safe="")
    if hit.modality == "pdf":
        body["thumbnail_url"] = f"{thumb}&page={pages[0] if pages else 1}"
    elif hit.modality == "video":
        body["thumbnail_url"] = f"{thumb}&t={seconds[0] if seconds else 0.0:g}"
    elif hit.modality == "image":
        body["thumbnail_url"] = thumb
    return body


def report_body(report: IngestReport) -> dict[str, Any]:
    return {
        "added": report.added, "updated": report.updated, "skipped": report.skipped,
        "removed": report.removed, "chunks": report.chunks,
        "errors": [{"source": e.source, "error": e.error, "message": e.message} for e in report.errors],
    }  # fmt: skip


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def _json(request: Request, model: type[BaseModel]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(exc.errors(include_url=False)) from None


def _uploads(form: Any) -> list[UploadFile]:
    return [v for _, v in form.multi_items() if isinstance(v, UploadFile)]


# -- ingest and delete ---------------------------------------------------------------------------
@router.post("/v1/index/documents")
async def add_documents(request: Request) -> JSONResponse:
    """Index uploaded files (multipart) or files under the allowed roots (``{"paths": [...]}``)."""
    index, settings = index_of(request), request.app.state.settings
    if _is_multipart(request):
        async with request.form() as form:
            files = _uploads(form)
            if not files:
                raise InvalidInput("the multipart body has no file; send one or more `file` fields")
            paths = [await _save_upload(settings, f) for f in files]
    else:
        body: PathsRequest = await _json(request, PathsRequest)
        paths = [allowed_path(Path(p), settings.allowed_roots) for p in body.paths]
    report = await run_in_threadpool(index.add, paths)
    return JSONResponse(report_body(report))


def allowed_path(path: Path, roots: tuple[Path, ...]) -> Path:
    """A file or folder inside the allowed roots, resolved.

    Raises:
        AccessDenied: outside every root, or no roots configured.
        NotFound: inside a root but missing.
    """
    resolved = path.resolve()
    if resolved.is_dir() and any(resolved.is_relative_to(r.resolve()) for r in roots):
        return resolved
    return resolve_allowed(path, roots)  # files, and the errors for everything else


async def _save_upload(settings: ServerSettings, upload: UploadFile) -> Path:
    """Keep an uploaded file under ``data_dir/index-uploads/<sha256 prefix>/<name>``; the index
    points at it, so media and thumbnails can be served later."""
    data = await upload.read()
    name = Path(upload.filename or "upload").name or "upload"
    if Path(name).suffix.lower() not in SUFFIX_MIME:
        raise InvalidInput(f"cannot index {name!r}: use one of {', '.join(sorted(SUFFIX_MIME))}")
    folder = settings.data_dir / "index-uploads" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        path.write_bytes(data)
    return path.resolve()


@router.delete("/v1/index/documents")
async def delete_documents(request: Request) -> JSONResponse:
    """Remove files (or folders of files) from the index: ``{"paths": [...]}``."""
    index = index_of(request)
    body: PathsRequest = await _json(request, PathsRequest)
    removed = await run_in_threadpool(index.delete, body.paths)
    return JSONResponse({"removed": removed})


@router.get("/v1/index/stats")
async def index_stats(request: Request) -> JSONResponse:
    from dataclasses import asdict

    stats = await run_in_threadpool(index_of(request).stats)
    return JSONResponse(asdict(stats))


# -- search --------------------------------------------------------------------------------------
@router.post("/v1/search")
async def search(request: Request) -> JSONResponse:
    """Search by text (JSON) or by example (multipart with a ``file``, plus optional ``k``,
    ``modalities`` (comma-separated) and ``path`` fields)."""
    from omnivec.media.sniff import verify_mime

    index = index_of(request)
    query: str | Part
    if _is_multipart(request):
        async with request.form() as form:
            files = _uploads(form)
            if len(files) != 1:
                raise InvalidInput(f"search by example takes one `file` field, not {len(files)}")
            data = await files[0].read()
            declared = files[0].content_type
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        mime = verify_mime(data, None if declared in (None, "application/octet-stream") else declared)
        query = Part.from_bytes(data, mime)
        try:
            k = int(fields.get("k") or 10)
        except ValueError:
            raise InvalidInput(f"k must be an integer, not {fields['k']!r}") from None
        modalities = [m.strip() for m in (fields.get("modalities") or "").split(",") if m.strip()]
        glob = fields.get("path") or None
    else:
        body: SearchRequest = await _json(request, SearchRequest)
        query, k, modalities, glob = body.query, body.k, body.modalities, body.path
    hits = await run_in_threadpool(index.search, query, k, modalities, glob)
    return JSONResponse({"results": [hit_body(h) for h in hits]})


# -- media and thumbnails ------------------------------------------------------------------------
def indexed_source(index: Index, source: str) -> tuple[Path, str]:
    """The file of an indexed source and its modality.

    Raises:
        NotFound: ``source`` is not in the index (whatever exists on disk), or it was deleted.
    """
    record = index.store.list_files().get(source)
    path = Path(source)
    if record is None or not path.is_file():
        raise NotFound(f"{source} is not in the index; only indexed files are served")
    return path, record.modality


@router.get("/v1/index/media")
async def media(request: Request, source: str) -> FileResponse:
    """The indexed file itself; honours HTTP Range, so audio and video can seek."""
    path, _ = await run_in_threadpool(indexed_source, index_of(request), source)
    return FileResponse(path, media_type=SUFFIX_MIME.get(path.suffix.lower()), filename=path.name,
                        content_disposition_type="inline")  # fmt: skip


@router.get("/v1/index/thumbnail")
async def thumbnail(request: Request, source: str, page: int = 1, t: float = 0.0) -> Response:
    """A PNG: the image downscaled, PDF page ``page`` (1-based) rendered, or the video frame at ``t`` s."""
    index, limits = index_of(request), _limits(request)
    path, modality = await run_in_threadpool(indexed_source, index, source)
    if page < 1 or t < 0:
        raise InvalidInput(f"page must be 1 or more and t 0 or more, not page={page}, t={t}")
    mtime = path.stat().st_mtime_ns
    png = await run_in_threadpool(_thumbnail_png, str(path), mtime, modality, page, t, limits)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@lru_cache(maxsize=256)
def _thumbnail_png(source: str, mtime: int, modality: str, page: int, t: float, limits: Limits) -> bytes:
    """``mtime`` is part of the cache key, so an edited file gets a new thumbnail."""
    from PIL import Image

    data = Path(source).read_bytes()
    image: Image.Image
    if modality == "image":
        from omnivec.media.image import decode_image

        image = decode_image(data, limits)
    elif modality == "pdf":
        from omnivec.media.pdf import count_pdf_pages, read_pdf

        pages = count_pdf_pages(data)
        if page > pages:
            raise InvalidInput(f"{Path(source).name} has {pages} pages; there is no page {page}")
        rendered = read_pdf(data, limits, dpi=60, pages=range(page - 1, page))[0].image
        assert rendered is not None  # render=True
        image = rendered
    elif modality == "video":
        from omnivec.media.video import sample_frames

        image = sample_frames(data, [t], limits)[0]
    else:
        raise InvalidInput(f"{Path(source).name} is {modality}; thumbnails exist for images, PDFs and videos")
    image = image.convert("RGB")
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


# -- the page ------------------------------------------------------------------------------------
def _static(name: str) -> bytes:
    file = resources.files("omnivec.web").joinpath(name)
    if not file.is_file():
        raise NotFound(f"no page file {name}")
    return file.read_bytes()


@router.get("/", include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(_static("index.html"))


@router.get("/web/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    suffix = Path(name).suffix
    if suffix not in STATIC_TYPES or "/" in name:
        raise NotFound(f"no page file {name}")
    return Response(_static(name), media_type=STATIC_TYPES[suffix])
