"""The real type of media bytes, from their magic numbers, checked against the declared type.

Clients label bytes with a MIME type, and labels lie (a renamed file, a wrong default in an
HTTP client, or a crafted upload). Every decoder therefore runs on the type the bytes
themselves announce; :func:`verify_mime` refuses bytes whose type contradicts the label, so a
JPEG sent as ``image/png`` fails with a message naming both instead of a confusing decode error.
"""

from __future__ import annotations

from omnivec.content import canonical_mime
from omnivec.errors import DecodeError, UnsupportedMedia

# What the bytes are, in words, for error messages.
DESCRIPTIONS: dict[str, str] = {
    "text/plain": "UTF-8 text",
    "text/markdown": "UTF-8 text",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/webp": "a WebP image",
    "audio/wav": "WAV audio",
    "audio/mpeg": "MP3 audio",
    "audio/flac": "FLAC audio",
    "audio/ogg": "an Ogg stream",
    "video/mp4": "an MP4 video",
    "video/quicktime": "a QuickTime (MOV) video",
    "video/webm": "a WebM/Matroska file",
    "application/pdf": "a PDF document",
}

# Declared types that canonical_mime does not list but that name a container we read; the
# bytes decide what is inside (a WebM may carry only audio, an MP4 only AAC).
_CONTAINER_ALIASES: dict[str, str] = {
    "audio/webm": "video/webm",
    "video/x-matroska": "video/webm",
    "audio/x-matroska": "video/webm",
    "audio/mp4": "video/mp4",
    "audio/x-m4a": "video/mp4",
    "audio/m4a": "video/mp4",
    "video/ogg": "audio/ogg",
}

# Pairs a byte signature cannot tell apart: ISO-BMFF brands (mp4 vs. QuickTime), and UTF-8
# text vs. Markdown. Each type maps to its family.
_FAMILY: dict[str, str] = {
    "video/mp4": "isobmff",
    "video/quicktime": "isobmff",
    "text/plain": "text",
    "text/markdown": "text",
}

# ISO-BMFF major brands of still images (HEIF, AVIF): not video, and not a type we embed.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
# QuickTime files written without an ftyp atom start with one of these atoms.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"})


def _sniff_riff(data: bytes) -> str | None:
    kind = data[8:12]
    if kind == b"WEBP":
        return "image/webp"
    if kind == b"WAVE":
        return "audio/wav"
    return None


def _sniff_isobmff(data: bytes) -> str | None:
    atom = data[4:8]
    if atom == b"ftyp":
        brand = data[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    # Without ftyp, also require a plausible atom size: text such as "Tax-free" has "free" at
    # offset 4 too, but its "size" has no NUL byte and exceeds any text's length.
    size = int.from_bytes(data[:4], "big")
    if atom in _QUICKTIME_ATOMS and (b"\x00" in data[:4] or 8 <= size <= len(data)):
        return "video/quicktime"
    return None


def _is_mpeg_audio_frame(data: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a valid version and a layer (0 is AAC ADTS)."""
    if len(data) < 2 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version, layer = (data[1] >> 3) & 0b11, (data[1] >> 1) & 0b11
    return version != 0b01 and layer != 0b00


def _is_pdf(data: bytes) -> bool:
    # The spec lets a header sit anywhere in the first 1024 bytes; off offset 0 we also want the
    # trailer, so a text file that merely mentions "%PDF-" stays text.
    at = data.find(b"%PDF-", 0, 1024)
    return at == 0 or (at > 0 and b"%%EOF" in data[-1024:])


def _is_utf8_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniff_mime(data: bytes) -> str | None:
    """The canonical MIME type the bytes announce, or None when they match no type we embed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"RIFF", b"RF64")):
        return _sniff_riff(data)
    # The byte after each magic (FLAC: STREAMINFO block type 0; Ogg: version 0; ID3: major
    # version 2-4) keeps plain text that starts with the same letters from passing as audio.
    if data.startswith(b"fLaC") and len(data) > 4 and data[4] & 0x7F == 0:
        return "audio/flac"
    if data.startswith(b"OggS\x00"):
        return "audio/ogg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if len(data) >= 12 and (found := _sniff_isobmff(data)):
        return found
    if (data.startswith(b"ID3") and len(data) > 3 and data[3] in (2, 3, 4)) or _is_mpeg_audio_frame(data):
        return "audio/mpeg"
    if _is_pdf(data):
        return "application/pdf"
    if _is_utf8_text(data):
        return "text/plain"
    return None


def _compatible(declared: str, sniffed: str) -> bool:
    if declared == sniffed:
        return True
    family = _FAMILY.get(declared)
    return family is not None and family == _FAMILY.get(sniffed)


def _describe(sniffed: str | None, data: bytes, wanted: str | None = None) -> str:
    if sniffed is None and _FAMILY.get(wanted or "") == "text":
        return "the bytes are not valid UTF-8 text (or contain NUL bytes)"
    if sniffed is None:
        return f"the bytes are not a type omnivec embeds (they start with {data[:8].hex(' ')})"
    return f"the bytes are {DESCRIPTIONS[sniffed]} ({sniffed})"


def verify_mime(data: bytes, declared: str | None) -> str:
    """Check that ``data`` is a supported type matching ``declared``; return its canonical MIME.

    The bytes decide the answer (``video/mp4`` declared for QuickTime bytes gives
    ``video/quicktime``), except that text declared ``text/markdown`` stays Markdown.

    Args:
        data: the media bytes.
        declared: the MIME type the client sent, or None to trust the bytes alone.

    Returns:
        The canonical MIME type of the bytes.

    Raises:
        DecodeError: ``data`` is empty.
        UnsupportedMedia: the declared type is not supported, the bytes are no supported type,
            or they contradict the declared type.
    """
    label = declared or "media"
    if not data:
        raise DecodeError(f"{label} data is empty (0 bytes)")
    sniffed = sniff_mime(data)
    if declared is None:
        if sniffed is None:
            raise UnsupportedMedia(_describe(None, data))
        return sniffed
    bare = declared.split(";", 1)[0].strip().lower()
    wanted = canonical_mime(_CONTAINER_ALIASES.get(bare, bare))
    if sniffed is None or not _compatible(wanted, sniffed):
        raise UnsupportedMedia(f"declared {declared} but {_describe(sniffed, data, wanted)}")
    return wanted if _FAMILY.get(wanted) == "text" else sniffed
