"""Key extraction and comparison, and redaction of keys in access logs."""

from __future__ import annotations

import logging

from omnivec.api.auth import RedactKeys, key_matches, presented_key


def _scope(headers: dict[str, str], query: bytes = b"") -> dict[str, object]:
    return {"headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "query_string": query}


def test_presented_key_sources_in_order() -> None:
    assert presented_key(_scope({"x-goog-api-key": "g"}, b"key=q")) == "g"
    assert presented_key(_scope({"Authorization": "Bearer b"}, b"alt=json&key=q")) == "q"
    assert presented_key(_scope({"Authorization": "bearer  b "})) == "b"
    assert presented_key(_scope({"Authorization": "Basic dXNlcg=="})) is None
    assert presented_key(_scope({})) is None


def test_key_matches() -> None:
    assert key_matches("two", ("one", "two"))
    assert (
        not key_matches("tw", ("one", "two")) and not key_matches("", ("one",)) and not key_matches("x", ())
    )


def test_redacts_key_parameters() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "POST", "/v1beta/models/lite:embedContent?alt=json&key=s3cret", "1.1", 200),
        None,
    )
    assert RedactKeys().filter(record)
    assert "s3cret" not in record.getMessage() and "key=***" in record.getMessage()
