"""The one error table: every omnivec error, validation and HTTP error, in both formats."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from omnivec import errors
from omnivec.api.errors import body_for, flavor_of, to_api_error, validation_message
from omnivec.errors import DeadlineExceeded


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


@pytest.mark.parametrize("kind", _subclasses(errors.OmnivecError), ids=lambda k: k.__name__)
def test_every_omnivec_error_keeps_its_code_and_status(kind: type[errors.OmnivecError]) -> None:
    error = to_api_error(kind("what went wrong"))
    assert (error.http_status, error.status, error.message) == (
        kind.http_status,
        kind.status,
        "what went wrong",
    )
    assert body_for(error, "gemini") == {
        "error": {"code": kind.http_status, "message": "what went wrong", "status": kind.status}
    }
    assert set(body_for(error, "openai")["error"]) == {"message", "type", "param", "code"}


def test_codes_the_brief_names() -> None:
    cases = {
        errors.InvalidInput: 400,
        errors.Unauthenticated: 401,
        errors.AccessDenied: 403,
        errors.ModelNotFound: 404,
        errors.PayloadTooLarge: 413,
        errors.Overloaded: 429,
        errors.Unavailable: 503,
        DeadlineExceeded: 504,
    }
    assert {k: to_api_error(k("x")).http_status for k in cases} == cases
    assert to_api_error(errors.Overloaded("busy", retry_after=3)).retry_after == 3


def test_openai_codes() -> None:
    assert body_for(to_api_error(errors.ModelNotFound("m")), "openai")["error"]["code"] == "model_not_found"
    assert body_for(to_api_error(errors.Overloaded("m")), "openai")["error"]["code"] == "rate_limit_exceeded"
    assert body_for(to_api_error(errors.Unauthenticated("m")), "openai")["error"]["code"] == "invalid_api_key"


def test_unexpected_errors_hide_details() -> None:
    error = to_api_error(RuntimeError("secret internals"))
    assert (error.http_status, error.status) == (500, "INTERNAL") and "secret" not in error.message


def test_http_errors() -> None:
    error = to_api_error(HTTPException(404), request_line="GET /nope")
    assert (error.http_status, error.status) == (404, "NOT_FOUND") and error.message.startswith(
        "GET /nope: no such endpoint"
    )


def test_validation_messages() -> None:
    extra = {
        "type": "extra_forbidden",
        "loc": ("body", "requests", 0, "foo"),
        "msg": "Extra inputs",
        "input": 1,
    }
    assert validation_message([extra], "gemini") == (
        "Invalid JSON payload received. Unknown name \"foo\" at 'requests[0]': Cannot find field.",
        "requests[0].foo",
    )
    assert validation_message([extra], "openai")[0] == "Unrecognized request argument supplied: foo"
    wrong = {
        "type": "int_parsing",
        "loc": ("body", "outputDimensionality"),
        "msg": "Input should be a valid integer",
        "input": "x" * 80,
    }
    message, param = validation_message([wrong] * 5, "gemini")
    assert message.startswith("Invalid value at 'outputDimensionality' ('xxxx") and "..." in message
    assert message.endswith("(and 2 more problems)") and param == "outputDimensionality"
    bad_json = {
        "type": "json_invalid",
        "loc": ("body", 7),
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": "Expecting value"},
    }
    assert (
        validation_message([bad_json], "gemini")[0]
        == "Invalid JSON payload received. Expecting value at position 7"
    )
    assert to_api_error(RequestValidationError([bad_json])).http_status == 400


def _scope(path: str, headers: dict[str, str] | None = None, query: bytes = b"") -> dict[str, object]:
    return {
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "query_string": query,
    }


def test_flavor_by_path_and_headers() -> None:
    assert flavor_of(_scope("/v1/embeddings")) == "openai"
    assert flavor_of(_scope("/v1/models")) == "openai"
    assert flavor_of(_scope("/v1/models", {"x-goog-api-client": "google-genai-sdk/3"})) == "gemini"
    assert flavor_of(_scope("/v1/models/lite", query=b"key=abc")) == "gemini"
    assert flavor_of(_scope("/v1/models/lite:embedContent")) == "gemini"
    assert flavor_of(_scope("/v1beta/models")) == "gemini"
    assert flavor_of(_scope("/upload/v1beta/files")) == "gemini"
