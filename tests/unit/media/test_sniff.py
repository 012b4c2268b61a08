"""sniff_mime / verify_mime on real files of every supported type, and on labels that lie."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.errors import DecodeError, UnsupportedMedia
from omnivec.media.sniff import sniff_mime, verify_mime

REAL_FILES = {
    "photo_png": "image/png",
    "photo_jpeg": "image/jpeg",
    "photo_webp": "image/webp",
    "speech_wav": "audio/wav",
    "speech_mp3": "audio/mpeg",
    "speech_flac": "audio/flac",
    "speech_ogg": "audio/ogg",
    "video_mp4": "video/mp4",
    "video_mov": "video/quicktime",
    "video_webm": "video/webm",
    "text_pdf": "application/pdf",
    "scanned_pdf": "application/pdf",
}


@pytest.mark.parametrize(("fixture", "mime"), REAL_FILES.items())
def test_real_files_are_recognised_and_verified(
    fixture: str, mime: str, request: pytest.FixtureRequest
) -> None:
    data = request.getfixturevalue(fixture).read_bytes()
    assert sniff_mime(data) == mime
    assert verify_mime(data, mime) == mime
    assert verify_mime(data, None) == mime


def test_text_and_markdown() -> None:
    data = "# Title\n\nSome *markdown* with ünïcode.\n".encode()
    assert sniff_mime(data) == "text/plain"
    assert verify_mime(data, "text/markdown") == "text/markdown"
    assert verify_mime(data, "text/plain; charset=utf-8") == "text/plain"


@pytest.mark.parametrize(
    "text",
    [
        "Tax-free shopping",
        "ID3 tags hold metadata",
        "fLaC is a codec",
        "OggS is a magic",
        "see the %PDF- header",
    ],
)
def test_text_that_starts_like_a_magic_number_stays_text(text: str) -> None:
    assert sniff_mime(text.encode()) == "text/plain"


def test_jpeg_declared_as_png_names_both_types(photo_jpeg: Path) -> None:
    with pytest.raises(
        UnsupportedMedia, match=r"declared image/png but the bytes are a JPEG image \(image/jpeg\)"
    ):
        verify_mime(photo_jpeg.read_bytes(), "image/png")


def test_audio_declared_as_video_is_refused(speech_wav: Path) -> None:
    with pytest.raises(UnsupportedMedia, match=r"declared video/mp4 but the bytes are WAV audio"):
        verify_mime(speech_wav.read_bytes(), "video/mp4")


def test_same_container_family_is_compatible(
    video_mp4: Path, video_mov: Path, video_webm: Path, speech_ogg: Path
) -> None:
    # The bytes decide: each answer is the sniffed type.
    assert verify_mime(video_mov.read_bytes(), "video/mp4") == "video/quicktime"
    assert verify_mime(video_mp4.read_bytes(), "video/quicktime") == "video/mp4"
    assert verify_mime(video_webm.read_bytes(), "audio/webm") == "video/webm"
    assert verify_mime(speech_ogg.read_bytes(), "application/ogg") == "audio/ogg"
    assert verify_mime(speech_ogg.read_bytes(), "audio/opus") == "audio/ogg"


def test_aliases_are_canonicalised(photo_jpeg: Path, speech_wav: Path) -> None:
    assert verify_mime(photo_jpeg.read_bytes(), "IMAGE/JPG") == "image/jpeg"
    assert verify_mime(speech_wav.read_bytes(), "audio/x-wav") == "audio/wav"


def test_empty_data_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"is empty \(0 bytes\)"):
        verify_mime(b"", "image/png")


def test_unknown_binary_is_unsupported() -> None:
    assert sniff_mime(b"\x00\x01\x02\x03garbage") is None
    with pytest.raises(UnsupportedMedia, match="not a type omnivec embeds"):
        verify_mime(b"\x00\x01\x02\x03garbage", None)


def test_binary_declared_as_text_says_it_is_not_utf8() -> None:
    with pytest.raises(UnsupportedMedia, match="not valid UTF-8"):
        verify_mime(b"\xc3\x28 broken", "text/plain")


def test_unsupported_declared_type(photo_png: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="image/gif"):
        verify_mime(photo_png.read_bytes(), "image/gif")


def test_lookalike_binaries_are_not_misread() -> None:
    aac_adts = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC])  # MPEG sync word, but layer 0 (AAC)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff_mime(aac_adts) is None
    assert sniff_mime(heic) is None
    assert sniff_mime(b"\xff\xfb\x90\x64" + bytes(100)) == "audio/mpeg"  # MPEG-1 layer III frame
    assert sniff_mime(b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat") == "video/quicktime"
