from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from omnivec.content import Content, Part, canonical_mime, modality_of, to_content, to_contents
from omnivec.errors import InvalidInput, UnsupportedMedia


def test_canonical_mime_maps_aliases_and_drops_parameters() -> None:
    assert canonical_mime("audio/x-wav") == "audio/wav"
    assert canonical_mime("image/JPG") == "image/jpeg"
    assert canonical_mime("text/plain; charset=utf-8") == "text/plain"
    assert modality_of("application/pdf") == "pdf"


def test_unsupported_mime_lists_what_is_supported() -> None:
    with pytest.raises(UnsupportedMedia, match=r"image/gif.*supported: .*image/png"):
        canonical_mime("image/gif")


def test_part_holds_exactly_one_payload() -> None:
    with pytest.raises(InvalidInput):
        Part(text="a", data=b"b", mime_type="image/png")
    with pytest.raises(InvalidInput, match="mime_type"):
        Part(data=b"\x89PNG")
    with pytest.raises(InvalidInput):
        Content(())


def test_coercion_of_batches() -> None:
    batch = to_contents(["a", ["b", Path("x.png")], Image.new("RGB", (4, 4))])
    assert [len(c.parts) for c in batch] == [1, 2, 1]
    assert batch[1].parts[1].path == Path("x.png")
    assert batch[2].parts[0].mime_type == "image/png"
    assert len(to_contents("one text")) == 1
    with pytest.raises(InvalidInput, match="MIME type"):
        to_content(b"raw")
    with pytest.raises(InvalidInput, match="cannot embed"):
        to_content(3.5)
