"""Files -> chunks within the model's limits, each with its place in the file.

* text: one chunk up to ``text_window_tokens`` word pieces (the model's own tokenizer, with
  character offsets, so every chunk is an exact slice of the file); longer text in windows of
  that size overlapping by ``text_overlap_tokens``, each cut moved back to a word boundary.
  Models without a tokenizer get word windows of half the token budget (a word is rarely
  more than two word pieces).
* PDF: one chunk per window of at most ``pdf_window_pages`` pages (the whole file when it is
  short enough) and, for documents of several pages, one chunk per page; both kinds are
  stored, marked ``pdf_window`` (or ``whole``) and ``pdf_page``.
* audio over the limit: cut by :mod:`omnivec.media.segments` (as the API's ``omnivecSegments``
  is) into equal segments of at most ``segment_seconds``, overlapping by
  ``segment_overlap_seconds``, each re-encoded as 16 kHz WAV.
* video over the limit (80 s with an audio track, 120 s without): the same segments, each a
  small *proxy video* of the segment (frames every ``video_frame_seconds``, held in turn, plus
  the segment's audio), which the model embeds exactly as it embeds a short video.
* images: one chunk.

Files over the request-bytes limit are chunked too when they can be (PDF, audio, video).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from omnivec.content import MIME_MODALITY, Part
from omnivec.errors import DecodeError, InvalidInput
from omnivec.limits import Limits
from omnivec.media.segments import MediaSegment, SegmentPolicy, segment_audio, segment_video


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    text_window_tokens: int = 254  # word pieces per text chunk (MiniLM's window; 1..max_text_tokens)
    text_overlap_tokens: int = 32  # shared by consecutive text chunks
    pdf_window_pages: int = 6  # pages per window (1..max_pdf_pages)
    segment_seconds: float = 60.0  # longest audio/video segment (0..80 s, the audio limit)
    segment_overlap_seconds: float = 10.0  # shared by consecutive segments (0..segment_seconds)
    video_frame_seconds: float = 10.0  # one proxy frame per this many seconds of a video segment
    video_max_frames: int = 16  # at most this many proxy frames per video segment

    @property
    def segments(self) -> SegmentPolicy:
        """How long audio and video are cut (see :mod:`omnivec.media.segments`)."""
        return SegmentPolicy(self.segment_seconds, self.segment_overlap_seconds, self.video_frame_seconds,
                             self.video_max_frames)  # fmt: skip

    def check(self, limits: Limits) -> None:
        """Refuse a policy whose chunks could break the limits they exist to respect."""
        media_limit = min(limits.max_audio_seconds, limits.max_video_with_audio_seconds)
        problems = [
            (not 0 < self.text_window_tokens <= limits.max_text_tokens, "text_window_tokens"),
            (not 0 <= self.text_overlap_tokens < self.text_window_tokens, "text_overlap_tokens"),
            (not 0 < self.pdf_window_pages <= limits.max_pdf_pages, "pdf_window_pages"),
            (not 0 < self.segment_seconds <= media_limit, "segment_seconds"),
            (not 0 <= self.segment_overlap_seconds < self.segment_seconds, "segment_overlap_seconds"),
            (not self.video_frame_seconds > 0, "video_frame_seconds"),
            (not self.video_max_frames >= 1, "video_max_frames"),
        ]
        bad = [name for failed, name in problems if failed]
        if bad:
            raise InvalidInput(f"chunking policy out of range for the model's limits: {', '.join(bad)}")


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """One chunk to embed: its parts (one Content) and where it sits in the file."""

    kind: str  # whole, text_window, pdf_window, pdf_page, audio_segment, video_segment
    locator: str  # "whole", "chars:0-1210", "pages:1-6", "page:3", "time:50.000-100.000"
    parts: tuple[Part, ...]
    pages: tuple[int, int] | None = None  # 1-based, inclusive
    seconds: tuple[float, float] | None = None
    chars: tuple[int, int] | None = None  # end exclusive
    text: str | None = None  # the chunk's text, when known before embedding

    @property
    def nbytes(self) -> int:
        """Media bytes plus text bytes: what the model's request-bytes limit counts."""
        return sum(len(p.data or b"") + len((p.text or "").encode()) for p in self.parts)


# -- tokenization ------------------------------------------------------------------------------
class Tokenizer(Protocol):
    @property
    def tokens_per_span(self) -> int:
        """Word pieces one span may hold at most, for budgeting."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of each token of ``text``."""
        ...


@dataclass(frozen=True, slots=True)
class ModelTokenizer:
    """The model's own word-piece tokenizer (a Hugging Face fast tokenizer), with offsets."""

    tokenizer: Any
    tokens_per_span: int = 1

    def spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                 truncation=False, verbose=False)  # fmt: skip
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]


@dataclass(frozen=True, slots=True)
class WordTokenizer:
    """Fallback for models without a tokenizer: words, each budgeted as two word pieces."""

    tokens_per_span: int = 2

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\S+", text)]


def tokenizer_for(model: Any) -> Tokenizer:
    """The model's tokenizer when it exposes one (``model.text_encoder.tokenizer``), else words."""
    encoder = getattr(model, "text_encoder", None)
    hf = getattr(encoder, "tokenizer", None)
    return ModelTokenizer(hf) if callable(hf) else WordTokenizer()


def _word_start(spans: Sequence[tuple[int, int]], i: int, floor: int, max_back: int = 24) -> int:
    """Move token index ``i`` back to the first piece of its word (spans glued without a gap)."""
    j = i
    while j > floor and i - j < max_back and spans[j][0] == spans[j - 1][1]:
        j -= 1
    return j if j > floor and spans[j][0] != spans[j - 1][1] else i


def token_windows(spans: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Token-index windows [start, end) of at most ``size`` tokens, overlapping by about ``overlap``."""
    n = len(spans)
    if n <= size:
        return [(0, n)]
    windows: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + size, n)
        if end < n:
            end = _word_start(spans, end, start)
        windows.append((start, end))
        if end >= n:
            return windows
        start = max(_word_start(spans, end - overlap, start), start + 1)


def plan_text(text: str, policy: ChunkingPolicy, tokenizer: Tokenizer) -> list[PlannedChunk]:
    if not text.strip():
        raise InvalidInput("the file has no text (it is empty or only whitespace)")
    spans = tokenizer.spans(text)
    size = max(1, policy.text_window_tokens // tokenizer.tokens_per_span)
    overlap = policy.text_overlap_tokens // tokenizer.tokens_per_span
    windows = token_windows(spans, size, overlap)
    if len(windows) == 1:
        return [PlannedChunk("whole", "whole", (Part.from_text(text),), chars=(0, len(text)), text=text)]
    chunks = []
    for first, last in windows:
        a, b = spans[first][0], spans[last - 1][1]
        piece = text[a:b]
        chunks.append(
            PlannedChunk("text_window", f"chars:{a}-{b}", (Part.from_text(piece),), chars=(a, b), text=piece)
        )
    return chunks


# -- PDF ---------------------------------------------------------------------------------------
def plan_pdf(data: bytes, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.pdf import count_pdf_pages, extract_pdf_pages

    n = count_pdf_pages(data)
    chunks: list[PlannedChunk] = []
    if n <= policy.pdf_window_pages and len(data) <= limits.max_request_bytes:
        chunks.append(
            PlannedChunk("whole", "whole", (Part.from_bytes(data, "application/pdf"),), pages=(1, n))
        )
    else:
        for start in range(0, n, policy.pdf_window_pages):
            window = range(start, min(start + policy.pdf_window_pages, n))
            first, last = window.start + 1, window.stop
            part = Part.from_bytes(extract_pdf_pages(data, window), "application/pdf")
            chunks.append(PlannedChunk("pdf_window", f"pages:{first}-{last}", (part,), pages=(first, last)))
    if n > 1:
        for page in range(n):
            part = Part.from_bytes(extract_pdf_pages(data, range(page, page + 1)), "application/pdf")
            chunks.append(PlannedChunk("pdf_page", f"page:{page + 1}", (part,), pages=(page + 1, page + 1)))
    return chunks


# -- audio and video ---------------------------------------------------------------------------
def _time_locator(start: float, end: float) -> str:
    return f"time:{start:.3f}-{end:.3f}"


def _segment_chunks(kind: str, segments: Sequence[MediaSegment]) -> list[PlannedChunk]:
    chunks = []
    for segment in segments:
        start, end = round(segment.start, 3), round(segment.end, 3)
        part = Part.from_bytes(segment.data, segment.mime)
        chunks.append(PlannedChunk(kind, _time_locator(start, end), (part,), seconds=(start, end)))
    return chunks


def plan_audio(data: bytes, mime: str, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.audio import probe_audio_seconds

    seconds = probe_audio_seconds(data)
    if seconds <= limits.max_audio_seconds and len(data) <= limits.max_request_bytes:
        return [
            PlannedChunk("whole", "whole", (Part.from_bytes(data, mime),), seconds=(0.0, round(seconds, 3)))
        ]
    return _segment_chunks("audio_segment", segment_audio(data, policy.segments))


def plan_video(data: bytes, mime: str, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.video import probe_video

    info = probe_video(data, limits)
    limit = limits.max_video_with_audio_seconds if info.has_audio else limits.max_video_seconds
    if info.seconds <= limit and len(data) <= limits.max_request_bytes:
        return [
            PlannedChunk(
                "whole", "whole", (Part.from_bytes(data, mime),), seconds=(0.0, round(info.seconds, 3))
            )
        ]
    return _segment_chunks("video_segment", segment_video(data, policy.segments, limits))


def plan_image(data: bytes, mime: str) -> list[PlannedChunk]:
    return [PlannedChunk("whole", "whole", (Part.from_bytes(data, mime),))]


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"the text is not valid UTF-8 (byte {exc.start})") from exc


def plan_file(
    data: bytes, mime: str, policy: ChunkingPolicy, limits: Limits, tokenizer: Tokenizer
) -> list[PlannedChunk]:
    """Cut one file's bytes into chunks the model accepts.

    Args:
        data: the file's bytes.
        mime: its canonical MIME type (verified against the bytes).

    Raises:
        InvalidInput: (or a subclass) the file cannot be read or cut.
    """
    planners: dict[str, Callable[[], list[PlannedChunk]]] = {
        "text": lambda: plan_text(_decode_text(data), policy, tokenizer),
        "pdf": lambda: plan_pdf(data, policy, limits),
        "audio": lambda: plan_audio(data, mime, policy, limits),
        "video": lambda: plan_video(data, mime, policy, limits),
        "image": lambda: plan_image(data, mime),
    }
    return planners[MIME_MODALITY[mime]]()


def built_text(planned: PlannedChunk, metadata: dict[str, Any]) -> str:
    """The text a chunk was built from: its own text, or what the model read or heard in it."""
    if planned.text is not None:
        return planned.text
    found: list[str] = []
    for part in metadata.get("parts", []):
        found.extend(part.get("page_text", []))
        found.append(part.get("transcript", ""))
        found.extend(part.get("ocr_text", []))
    unique = dict.fromkeys(s.strip() for s in found if s.strip())  # video frames often repeat text
    return "\n\n".join(unique)
