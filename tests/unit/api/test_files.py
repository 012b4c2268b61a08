"""The upload store: resumable sessions, checks on finalize, listing and deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.api.files import FileStore
from omnivec.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    files = FileStore(tmp_path, max_bytes=1024)
    files.open()
    return files


def test_upload_in_chunks(store: FileStore) -> None:
    session = store.start_upload(None, "image/png", len(PNG), "a picture")
    store.append(session, 0, PNG[:10])
    store.append(session, 10, PNG[10:])
    record = store.finalize(session)
    assert (
        record.mime_type == "image/png"
        and record.size_bytes == len(PNG)
        and record.display_name == "a picture"
    )
    assert store.read(record.name) == (record, PNG)
    resource = record.resource("http://host:1/")
    assert resource["uri"] == f"http://host:1/v1beta/{record.name}" and resource["sizeBytes"] == str(len(PNG))
    assert not list(store.partial.iterdir())  # no leftovers


def test_checks(store: FileStore) -> None:
    session = store.start_upload(None, "image/png", None, None)
    with pytest.raises(InvalidInput, match="offset 5 does not match the 0 bytes"):
        store.append(session, 5, b"x")
    with pytest.raises(PayloadTooLarge):
        store.start_upload(None, "image/png", 4096, None)
    with pytest.raises(PayloadTooLarge):
        store.append(session, 0, b"x" * 2048)
    lying = store.start_upload(None, "image/jpeg", None, None)
    store.append(lying, 0, PNG)
    with pytest.raises(UnsupportedMedia, match="declared image/jpeg but the bytes are a PNG image"):
        store.finalize(lying)
    short = store.start_upload(None, "image/png", 100, None)
    store.append(short, 0, PNG)
    with pytest.raises(InvalidInput, match="declared 100 bytes but 32 arrived"):
        store.finalize(short)
    with pytest.raises(NotFound, match="no such upload session"):
        store.append("never-started", 0, b"x")


def test_names_list_delete(store: FileStore) -> None:
    with pytest.raises(InvalidInput, match="invalid file name"):
        store.start_upload("files/Bad_Name", None, None, None)
    names = []
    for name in ("files/first", "second"):
        session = store.start_upload(name, None, None, None)
        store.append(session, 0, b"plain text")
        names.append(store.finalize(session).name)
    assert names == ["files/first", "files/second"]
    assert [r.name for r in store.list()] == ["files/second", "files/first"]
    store.delete("files/first")
    with pytest.raises(NotFound):
        store.get("files/first")
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")


def test_name_of_uri(store: FileStore) -> None:
    assert store.name_of_uri("files/abc", "h:1") == "files/abc"
    assert store.name_of_uri("http://h:1/v1beta/files/abc", "h:1") == "files/abc"
    assert store.name_of_uri("http://h:1/v1/files/abc", "h:1") == "files/abc"
    assert store.name_of_uri("http://other:1/v1beta/files/abc", "h:1") is None
    assert store.name_of_uri("https://generativelanguage.googleapis.com/v1beta/files/abc", "h:1") is None
