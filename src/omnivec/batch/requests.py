"""Input lines of a batch job: bounded line reading and parsing one JSON line into a request.

A line is one of three shapes, all giving exactly one :class:`~omnivec.content.Content`:

* the Gemini batch file form ``{"key": ..., "request": {"content": {"parts": [...]}, "taskType": ...}}``;
* a bare Gemini request ``{"content": {...}, "taskType": ..., "title": ..., "outputDimensionality": ...}``;
* a simple line ``{"id": ..., "text": ...}`` or ``{"id": ..., "path": ..., "mimeType": ...}``.

Parts are ``{"text"}``, ``{"inlineData": {"mimeType", "data" (base64)}}`` or
``{"fileData": {"fileUri" (an absolute path, a ``file://`` URI, or a path relative to the
input file's folder), "mimeType"}}``; snake_case spellings are accepted as in proto3 JSON.
A line that cannot be parsed becomes a :class:`BadLine` carrying the error, never an exception:
one bad line must not stop a job of a million.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from omnivec.content import Content, Part
from omnivec.errors import InvalidInput, OmnivecError, PayloadTooLarge
from omnivec.models.base import EmbedOptions, check_task
from omnivec.payload import decode_base64

_SKIP_BLOCK = 1 << 20  # bytes read at a time while skipping the rest of an over-long line


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one input gave no vector: the HTTP code, Gemini status and a message a user can act on."""

    code: int
    status: str
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> RowError:
        if isinstance(exc, OmnivecError):
            return cls(exc.http_status, exc.status, exc.message)
        return cls(500, "INTERNAL", f"{type(exc).__name__}: {exc}")

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "status": self.status, "message": self.message}


@dataclass(frozen=True, slots=True)
class BatchRequest:
    line: int  # 1-based line number in the input file
    key: str | None  # the line's "key" or "id", as a string
    content: Content
    options: EmbedOptions  # the job's options with this line's task and title applied


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    key: str | None
    error: RowError


@dataclass(frozen=True, slots=True)
class LineRules:
    """What every line of one job is parsed against."""

    defaults: EmbedOptions  # the job's options; dim is the job's output width
    base_dir: Path  # relative file references are taken from here (the input file's folder)
    max_line_bytes: int  # longer lines are refused without being held in memory


@dataclass(frozen=True, slots=True)
class RawLine:
    number: int  # 1-based
    start: int  # byte offset of the line in the file
    end: int  # byte offset just past its newline
    data: bytes | None  # None: longer than the limit (skipped, never held in memory)

    @property
    def blank(self) -> bool:
        return self.data is not None and not self.data.strip()


def iter_lines(f: BinaryIO, start: int, end: int, first_line: int, max_bytes: int) -> Iterator[RawLine]:
    """Lines of ``f`` between byte offsets ``start`` and ``end``, each held in memory only if short enough."""
    f.seek(start)
    pos, number = start, first_line
    while pos < end:
        data = f.readline(max_bytes + 1)
        if not data:
            return
        begin, pos = pos, pos + len(data)
        if len(data) > max_bytes and not data.endswith(b"\n"):
            while data and not data.endswith(b"\n"):  # skip the rest of the line without keeping it
                data = f.readline(_SKIP_BLOCK)
                pos += len(data)
            yield RawLine(number, begin, pos, None)
        else:
            yield RawLine(number, begin, pos, data)
        number += 1


def parse_line(raw: RawLine, rules: LineRules) -> BatchRequest | BadLine:
    """One input line -> a request, or a :class:`BadLine` with the error (never raises OmnivecError)."""
    if raw.data is None:
        error = PayloadTooLarge(
            f"the line is over {rules.max_line_bytes:,} bytes (the request limit as base64 plus JSON); "
            "reference large media with fileData.fileUri or \"path\" instead of inlining it"
        )
        return BadLine(raw.number, None, RowError.from_exception(error))
    key: str | None = None
    try:
        obj = _decode_object(raw.data)
        key = _key_of(obj)
        content, options = _request_of(obj, rules)
    except OmnivecError as exc:
        return BadLine(raw.number, key, RowError.from_exception(exc))
    return BatchRequest(raw.number, key, content, options)


def _decode_object(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the line is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidInput(f"the line is a JSON {type(obj).__name__}; expected an object such as {{\"id\": ..., \"text\": ...}}")
    return obj


def _key_of(obj: dict[str, Any]) -> str | None:
    key = obj.get("key", obj.get("id"))
    return None if key is None else str(key)


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _request_of(obj: dict[str, Any], rules: LineRules) -> tuple[Content, EmbedOptions]:
    if "request" in obj:
        request = obj["request"]
        if not isinstance(request, dict):
            raise InvalidInput("\"request\" must be an object holding \"content\"")
        return _gemini_request(request, rules)
    if "content" in obj:
        return _gemini_request(obj, rules)
    if ("text" in obj) + ("path" in obj) == 1:
        return _simple_line(obj, rules)
    raise InvalidInput(
        "the line has none of the accepted shapes: {\"key\", \"request\": {\"content\": ...}}, "
        "{\"content\": ...}, {\"id\", \"text\"} or {\"id\", \"path\"} (exactly one of text and path)"
    )


def _simple_line(obj: dict[str, Any], rules: LineRules) -> tuple[Content, EmbedOptions]:
    if "text" in obj:
        text = obj["text"]
        if not isinstance(text, str):
            raise InvalidInput("\"text\" must be a string")
        return Content((Part.from_text(text),)), rules.defaults
    path = obj["path"]
    if not isinstance(path, str) or not path:
        raise InvalidInput("\"path\" must be a non-empty string")
    mime = _field(obj, "mimeType", "mime_type")
    return Content((Part.from_path(_local_path(path, rules.base_dir), mime),)), rules.defaults


def _gemini_request(request: dict[str, Any], rules: LineRules) -> tuple[Content, EmbedOptions]:
    content = request.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list) or not content["parts"]:
        raise InvalidInput("\"content\" must be an object with a non-empty \"parts\" list")
    parts = tuple(_part(p, i, rules.base_dir) for i, p in enumerate(content["parts"]))
    return Content(parts), _options(request, rules)


def _options(request: dict[str, Any], rules: LineRules) -> EmbedOptions:
    options = rules.defaults
    task = check_task(_field(request, "taskType", "task_type"))
    if task is not None:
        options = replace(options, task=task)
    if (title := request.get("title")) is not None:
        options = replace(options, title=str(title))
    dim = _field(request, "outputDimensionality", "output_dimensionality")
    if dim is not None and dim != options.dim:
        raise InvalidInput(
            f"outputDimensionality {dim} differs from the job's width {options.dim}; every row of a batch "
            f"output has one width: run the job with --dim {dim}, or split the input by width"
        )
    return options


def _part(part: Any, index: int, base_dir: Path) -> Part:
    where = f"parts[{index}]"
    if not isinstance(part, dict):
        raise InvalidInput(f"{where} must be an object")
    if "text" in part:
        if not isinstance(part["text"], str):
            raise InvalidInput(f"{where}.text must be a string")
        return Part.from_text(part["text"])
    if (inline := _field(part, "inlineData", "inline_data")) is not None:
        data, mime = _blob_fields(inline, f"{where}.inlineData", "data")
        return Part.from_bytes(decode_base64(data, f"{where}.inlineData.data"), mime)
    if (ref := _field(part, "fileData", "file_data")) is not None:
        uri, mime = _blob_fields(ref, f"{where}.fileData", "fileUri", "file_uri")
        return Part.from_path(_local_path(uri, base_dir), mime or None)
    raise InvalidInput(f"{where} has none of text, inlineData, fileData")


def _blob_fields(blob: Any, where: str, camel: str, snake: str | None = None) -> tuple[str, str]:
    if not isinstance(blob, dict):
        raise InvalidInput(f"{where} must be an object")
    value = _field(blob, camel, snake or camel)
    mime = _field(blob, "mimeType", "mime_type") or ""
    if not isinstance(value, str) or not isinstance(mime, str):
        raise InvalidInput(f"{where}.{camel} and {where}.mimeType must be strings")
    if camel == "data" and not mime:
        raise InvalidInput(f"{where}.mimeType is required with inline data")
    return value, mime



def _local_path(uri: str, base_dir: Path) -> Path:
    """A file reference as a path: absolute, ``file://`` or relative to the input file's folder."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"file URI {uri!r} names host {parsed.netloc!r}; only local files can be read")
        return Path(unquote(parsed.path))
    if "://" in uri:
        raise InvalidInput(
            f"fileUri {uri!r} is not a local file; a batch job reads absolute paths, file:// URIs, "
            "or paths relative to the input file's folder"
        )
    path = Path(uri).expanduser()
    return path if path.is_absolute() else base_dir / path
