"""Parsing input lines: every accepted shape, and every way a line can be bad (no model needed)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from omnivec.batch.requests import BadLine, BatchRequest, LineRules, RawLine, iter_lines, parse_line
from omnivec.content import Part
from omnivec.models.base import EmbedOptions

RULES = LineRules(EmbedOptions(task="RETRIEVAL_QUERY", dim=128), Path("/data/in"), 4096)


def parse(obj: Any, rules: LineRules = RULES) -> BatchRequest | BadLine:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return parse_line(RawLine(7, 0, len(data), data), rules)


def request(obj: Any) -> BatchRequest:
    parsed = parse(obj)
    assert isinstance(parsed, BatchRequest), parsed
    return parsed


def bad(obj: Any) -> BadLine:
    parsed = parse(obj)
    assert isinstance(parsed, BadLine), parsed
    return parsed


PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()


def test_gemini_batch_file_form() -> None:
    line = {"key": "req-1", "request": {
        "content": {"parts": [{"text": "a cat"}, {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}]},
        "taskType": "RETRIEVAL_DOCUMENT", "title": "Cats", "outputDimensionality": 128,
    }}
    parsed = request(line)
    assert (parsed.line, parsed.key) == (7, "req-1")
    assert parsed.content.parts == (Part.from_text("a cat"), Part.from_bytes(base64.b64decode(PNG_B64), "image/png"))
    assert parsed.options == EmbedOptions(task="RETRIEVAL_DOCUMENT", title="Cats", dim=128)


def test_bare_request_with_snake_case_and_file_uris() -> None:
    parsed = request({"id": 5, "content": {"parts": [
        {"file_data": {"file_uri": "file:///abs/a%20b.wav", "mime_type": "audio/wav"}},
        {"fileData": {"fileUri": "/abs/c.pdf"}},
        {"fileData": {"fileUri": "rel/d.png"}},
    ]}, "task_type": "TASK_TYPE_UNSPECIFIED"})
    assert parsed.key == "5"  # keys are strings in every output
    assert [p.path for p in parsed.content.parts] == [Path("/abs/a b.wav"), Path("/abs/c.pdf"), Path("/data/in/rel/d.png")]
    assert parsed.content.parts[0].mime_type == "audio/wav" and parsed.content.parts[1].mime_type is None
    assert parsed.options == RULES.defaults  # the job's task applies when the line gives none


def test_simple_lines() -> None:
    assert request({"id": "a", "text": "hello"}).content.parts == (Part.from_text("hello"),)
    by_path = request({"id": "b", "path": "img/x.jpg", "mimeType": "image/jpeg"}).content.parts[0]
    assert (by_path.path, by_path.mime_type) == (Path("/data/in/img/x.jpg"), "image/jpeg")
    assert request({"text": "no id"}).key is None


def test_urlsafe_unpadded_base64_is_accepted() -> None:
    raw = bytes(range(250))
    data = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    parsed = request({"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": data}}]}})
    assert parsed.content.parts[0].data == raw


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ([1, 2], "is a JSON list; expected an object"),
        ({"id": "x"}, "none of the accepted shapes"),
        ({"id": "x", "text": "a", "path": "b"}, "none of the accepted shapes"),
        ({"id": "x", "text": 3}, "\"text\" must be a string"),
        ({"content": {"parts": []}}, "non-empty \"parts\""),
        ({"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}}, "parts[0].inlineData.data is not valid base64"),
        ({"content": {"parts": [{"inlineData": {"data": PNG_B64}}]}}, "mimeType is required"),
        ({"content": {"parts": [{"video": 1}]}}, "parts[0] has none of text, inlineData, fileData"),
        ({"content": {"parts": [{"fileData": {"fileUri": "gs://bucket/x.png"}}]}}, "is not a local file"),
        ({"content": {"parts": [{"fileData": {"fileUri": "file://server/x.png"}}]}}, "names host 'server'"),
        ({"content": {"parts": [{"text": "a"}]}, "taskType": "NOPE"}, "unknown task type 'NOPE'"),
        ({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 64}, "differs from the job's width 128"),
    ],
)
def test_bad_lines_become_rows_with_status(line: Any, message: str) -> None:
    parsed = bad(line)
    assert parsed.line == 7 and parsed.error.code == 400 and parsed.error.status == "INVALID_ARGUMENT"
    assert message in parsed.error.message


def test_bad_line_keeps_its_key() -> None:
    assert bad({"key": "k9", "request": {"content": {"parts": [{"text": 1}]}}}).key == "k9"


def test_over_long_lines_are_skipped_without_being_held() -> None:
    long = b'{"text": "' + b"x" * 10_000 + b'"}'
    data = b'{"text": "a"}\n\n' + long + b"\n" + long + b'\n{"text": "b"}'  # last line has no newline
    lines = list(iter_lines(io.BytesIO(data), 0, len(data), 1, max_bytes=100))
    assert [(r.number, r.blank, r.data is None) for r in lines] == [
        (1, False, False), (2, True, False), (3, False, True), (4, False, True), (5, False, False),
    ]
    assert lines[-1].end == len(data) and lines[3].start == lines[2].end
    parsed = parse_line(lines[2], RULES)
    assert isinstance(parsed, BadLine) and parsed.error.code == 413 and "fileData.fileUri" in parsed.error.message
