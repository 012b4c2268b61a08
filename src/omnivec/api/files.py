"""The Gemini Files API: resumable uploads stored under the data dir, get, list and delete.

google-genai's ``client.files.upload`` speaks Google's resumable protocol: a ``start``
request (``X-Goog-Upload-Protocol: resumable``, ``X-Goog-Upload-Command: start``, a JSON body
``{"file": {...}}``) whose response carries ``x-goog-upload-url``, then one POST per 8 MiB
chunk to that URL with ``X-Goog-Upload-Command: upload`` (``upload, finalize`` on the last)
and ``X-Goog-Upload-Offset``; the final answer is ``{"file": {...}}`` with
``x-goog-upload-status: final``. Chunk requests carry no API key (the client sends only the
upload headers), so the session id in the URL is the credential, as with Google's.
``X-Goog-Upload-Protocol: raw`` (the body is the file) is accepted too, for curl.

Stored bytes are checked like any media: the real type must match the declared one. A
``fileData.fileUri`` naming a stored file (``files/abc`` or this server's own ``.../files/abc``
URI) is read from here; nothing is ever fetched from the network.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from omnivec.api.auth import UPLOAD_SESSION_PARAM, request_owner
from omnivec.api.errors import response_for
from omnivec.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, page_of
from omnivec.api.schemas import CreateFileRequest
from omnivec.content import canonical_mime
from omnivec.errors import InvalidInput, NotFound, OmnivecError, Overloaded, PayloadTooLarge
from omnivec.media.sniff import verify_mime

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")  # Google's rule for file ids
MAX_OPEN_UPLOADS = 64  # sessions started and not finished; more are refused with 429
UPLOAD_SESSION_SECONDS = 3600.0  # an unfinished upload is dropped after this long


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    mime_type: str
    size_bytes: int
    sha256: str  # hex
    created: str  # RFC 3339
    display_name: str | None = None
    owner: str | None = None  # owner id of the uploading API key (auth.owner_of_key); None without keys

    @property
    def name(self) -> str:
        return f"files/{self.id}"

    def resource(self, base_url: str) -> dict[str, Any]:
        """The File resource as Google renders it (int64 as a string, hash as base64)."""
        body: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(self.size_bytes),
            "createTime": self.created,
            "updateTime": self.created,
            "sha256Hash": base64.b64encode(bytes.fromhex(self.sha256)).decode(),
            "uri": f"{base_url.rstrip('/')}/v1beta/{self.name}",
            "state": "ACTIVE",
            "source": "UPLOADED",
        }
        if self.display_name:
            body["displayName"] = self.display_name
        return body


@dataclass(slots=True)
class _Upload:
    id: str
    declared_mime: str | None
    declared_size: int | None
    display_name: str | None
    path: Path  # bytes received so far
    started: float
    received: int = 0
    owner: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class FileStore:
    """Uploaded files under ``<data_dir>/files``: ``<id>.bin`` with ``<id>.json`` beside it."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.root = data_dir / "files"
        self.partial = data_dir / "uploads"
        self.max_bytes = max_bytes
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir(parents=True, exist_ok=True)

    # -- uploads ------------------------------------------------------------------------------
    def start_upload(
        self, name: str | None, mime: str | None, size: int | None, display_name: str | None,
        owner: str | None = None,
    ) -> str:
        self._drop_stale_uploads()
        if size is not None and size > self.max_bytes:
            raise PayloadTooLarge(
                f"file is {size:,} bytes; the limit is {self.max_bytes:,} bytes (OMNIVEC_MAX_REQUEST_BYTES)"
            )
        file_id = self._new_id(name)
        with self._lock:
            if len(self._uploads) >= MAX_OPEN_UPLOADS:
                raise Overloaded(
                    f"{MAX_OPEN_UPLOADS} uploads are in progress; finish or retry later", retry_after=5.0
                )
            fd, tmp = tempfile.mkstemp(dir=self.partial, suffix=".part")
            os.close(fd)
            session = secrets.token_urlsafe(32)
            self._uploads[session] = _Upload(
                file_id, mime, size, display_name, Path(tmp), time.monotonic(), owner=owner
            )
        return session

    def append(self, session: str, offset: int, chunk: bytes) -> _Upload:
        upload = self.session(session)
        if offset != upload.received:
            raise InvalidInput(
                f"upload offset {offset} does not match the {upload.received} bytes received so far"
            )
        if upload.received + len(chunk) > self.max_bytes:
            self._abort(session)
            raise PayloadTooLarge(
                f"file exceeds the limit of {self.max_bytes:,} bytes (OMNIVEC_MAX_REQUEST_BYTES)"
            )
        with upload.path.open("ab") as f:
            f.write(chunk)
        upload.received += len(chunk)
        return upload

    def finalize(self, session: str) -> StoredFile:
        upload = self.session(session)
        self._abort(session, keep_file=True)
        try:
            return self._store(upload)
        finally:
            upload.path.unlink(missing_ok=True)

    def _store(self, upload: _Upload) -> StoredFile:
        if upload.declared_size is not None and upload.received != upload.declared_size:
            raise InvalidInput(f"upload declared {upload.declared_size} bytes but {upload.received} arrived")
        data = upload.path.read_bytes()
        mime = verify_mime(data, canonical_mime(upload.declared_mime) if upload.declared_mime else None)
        record = StoredFile(
            upload.id, mime, len(data), hashlib.sha256(data).hexdigest(), _now(), upload.display_name,
            upload.owner,
        )
        if self._meta(upload.id).exists():
            raise InvalidInput(
                f"a file named files/{upload.id} already exists; delete it first or pick another name"
            )
        os.replace(upload.path, self._data(upload.id))
        self._meta(upload.id).write_text(json.dumps(asdict(record)))
        logger.info("stored %s (%s, %d bytes)", record.name, mime, record.size_bytes)
        return record

    def session(self, session: str) -> _Upload:
        with self._lock:
            upload = self._uploads.get(session)
        if upload is None:
            raise NotFound(
                "no such upload session (finished, expired or never started); start the upload again"
            )
        return upload

    def cancel(self, session: str) -> None:
        self._abort(session)

    def _abort(self, session: str, keep_file: bool = False) -> None:
        with self._lock:
            upload = self._uploads.pop(session, None)
        if upload is not None and not keep_file:
            upload.path.unlink(missing_ok=True)

    def _drop_stale_uploads(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [s for s, u in self._uploads.items() if now - u.started > UPLOAD_SESSION_SECONDS]
        for session in stale:
            self._abort(session)

    def _new_id(self, name: str | None) -> str:
        if name is None:
            return secrets.token_hex(6)
        file_id = name.removeprefix("files/")
        if not NAME_PATTERN.fullmatch(file_id):
            raise InvalidInput(
                f"invalid file name {name!r}: up to 40 lowercase letters, digits or dashes, not starting or ending with a dash"
            )
        return file_id

    # -- stored files -------------------------------------------------------------------------------
    def _data(self, file_id: str) -> Path:
        return self.root / f"{file_id}.bin"

    def _meta(self, file_id: str) -> Path:
        return self.root / f"{file_id}.json"

    def get(self, name: str, owner: str | None = None) -> StoredFile:
        """The file ``name`` if ``owner`` uploaded it; another key's file is reported as missing."""
        file_id = name.removeprefix("files/")
        meta = self._meta(file_id) if NAME_PATTERN.fullmatch(file_id) else None
        record = StoredFile(**json.loads(meta.read_text())) if meta is not None and meta.exists() else None
        if record is None or record.owner != owner:
            raise NotFound(f"file files/{file_id} does not exist (deleted, or never uploaded here)")
        return record

    def read(self, name: str, owner: str | None = None) -> tuple[StoredFile, bytes]:
        record = self.get(name, owner)
        return record, self._data(record.id).read_bytes()

    def delete(self, name: str, owner: str | None = None) -> None:
        record = self.get(name, owner)
        self._meta(record.id).unlink(missing_ok=True)
        self._data(record.id).unlink(missing_ok=True)

    def list(self, owner: str | None = None) -> list[StoredFile]:
        records = [StoredFile(**json.loads(p.read_text())) for p in self.root.glob("*.json")]
        mine = [r for r in records if r.owner == owner]
        return sorted(mine, key=lambda r: (r.created, r.id), reverse=True)

    def name_of_uri(self, uri: str, host: str) -> str | None:
        """``files/<id>`` for a URI naming a stored file on this server, else None."""
        if uri.startswith("files/"):
            return uri
        parts = urlsplit(uri)
        match = re.fullmatch(r"/v1(?:beta)?/(files/[^/]+)", parts.path)
        if parts.scheme in ("http", "https") and parts.netloc == host and match:
            return match.group(1)
        return None


# -- routes ------------------------------------------------------------------------------------
router = APIRouter()


def store_of(request: Request) -> FileStore:
    store: FileStore = request.app.state.files
    return store


def _upload_headers(request: Request) -> tuple[str, str]:
    protocol = request.headers.get("x-goog-upload-protocol", "").lower()
    command = request.headers.get("x-goog-upload-command", "").lower()
    return protocol, command


def _int_header(request: Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"header {name} must be an integer, not {value!r}") from None


def _final(record: StoredFile, request: Request) -> JSONResponse:
    headers = {"x-goog-upload-status": "final"}
    return JSONResponse({"file": record.resource(str(request.base_url))}, headers=headers)


async def _start(request: Request, body: CreateFileRequest) -> Response:
    store = store_of(request)
    size = _int_header(request, "x-goog-upload-header-content-length")
    mime = request.headers.get("x-goog-upload-header-content-type") or body.file.mime_type
    if mime:
        canonical_mime(mime)  # refuse unsupported types before any byte is sent
    session = await asyncio.to_thread(
        store.start_upload, body.file.name, mime, size or body.file.size_bytes, body.file.display_name,
        request_owner(request.scope),
    )
    url = request.url.replace(query=f"{UPLOAD_SESSION_PARAM}={session}&upload_protocol=resumable")
    return JSONResponse({}, headers={"x-goog-upload-url": str(url), "x-goog-upload-status": "active"})


async def _raw(request: Request) -> Response:
    store = store_of(request)
    mime = request.headers.get("x-goog-upload-header-content-type") or request.headers.get("content-type")
    data = await request.body()
    session = await asyncio.to_thread(
        store.start_upload, None, mime, len(data), None, request_owner(request.scope)
    )
    await asyncio.to_thread(store.append, session, 0, data)
    return _final(await asyncio.to_thread(store.finalize, session), request)


async def _chunk(request: Request, session: str, command: str) -> Response:
    store = store_of(request)
    commands = {c.strip() for c in command.split(",") if c.strip()}
    if commands - {"upload", "finalize", "query", "cancel"} or not commands:
        raise InvalidInput(
            f"unknown X-Goog-Upload-Command {command!r}; expected upload, finalize, query or cancel"
        )
    if "cancel" in commands:
        await asyncio.to_thread(store.cancel, session)
        return JSONResponse({}, headers={"x-goog-upload-status": "cancelled"})
    upload = store.session(session)
    if "upload" in commands:
        offset = _int_header(request, "x-goog-upload-offset") or 0
        upload = await asyncio.to_thread(store.append, session, offset, await request.body())
    if "finalize" in commands:
        return _final(await asyncio.to_thread(store.finalize, session), request)
    headers = {"x-goog-upload-status": "active", "x-goog-upload-size-received": str(upload.received)}
    return JSONResponse({}, headers=headers)


@router.post("/upload/v1beta/files", include_in_schema=True)
@router.post("/upload/v1/files", include_in_schema=False)
async def upload_file(request: Request, upload_id: Annotated[str | None, Query()] = None) -> Response:
    """Start a resumable upload, send a chunk of one, or upload a file in one request (raw)."""
    protocol, command = _upload_headers(request)
    if upload_id is not None:
        try:
            return await _chunk(request, upload_id, command)
        except OmnivecError as exc:
            # google-genai retries a chunk answer without an upload status; "final" ends the upload.
            response = response_for(request.scope, exc)
            response.headers["x-goog-upload-status"] = "final"
            return response
    if protocol == "raw":
        return await _raw(request)
    if protocol != "resumable" or command != "start":
        raise InvalidInput(
            "start an upload with X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start "
            "(what google-genai's client.files.upload sends), or send the whole file with "
            "X-Goog-Upload-Protocol: raw"
        )
    raw = await request.body()
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Invalid JSON payload received. {exc.msg} at position {exc.pos}") from None
    try:
        body = CreateFileRequest.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return await _start(request, body)


@router.get("/v1beta/files/{name}")
@router.get("/v1/files/{name}", include_in_schema=False)
async def get_file(name: str, request: Request) -> JSONResponse:
    record = await asyncio.to_thread(store_of(request).get, name, request_owner(request.scope))
    return JSONResponse(record.resource(str(request.base_url)))


@router.delete("/v1beta/files/{name}")
@router.delete("/v1/files/{name}", include_in_schema=False)
async def delete_file(name: str, request: Request) -> JSONResponse:
    await asyncio.to_thread(store_of(request).delete, name, request_owner(request.scope))
    return JSONResponse({})


@router.get("/v1beta/files")
@router.get("/v1/files", include_in_schema=False)
async def list_files(
    request: Request,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
) -> JSONResponse:
    records = await asyncio.to_thread(store_of(request).list, request_owner(request.scope))
    base_url = str(request.base_url)
    return JSONResponse(page_of(records, page_size, page_token, "files", lambda r: r.resource(base_url)))
