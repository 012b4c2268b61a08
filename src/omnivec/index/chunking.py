"""Files -> chunks within the model's limits, each with its place in the file.

* text: one chunk up to ``text_window_tokens`` word pieces (the model's own tokenizer, with
  character offsets, so every chunk is an exact slice of the file); longer text in windows of
  that size overlapping by ``text_overlap_tokens``, each cut moved back to a word boundary.
  Models without a tokenizer get word windows of half the token budget (a word is rarely
  more than two word pieces).
* PDF: one chunk per window of at most ``pdf_window_pages`` pages (the whole file when it is
  short enough) and, for documents of several pages, one chunk per page; both kinds are
  stored, marked ``pdf_window`` (or ``whole``) and ``pdf_page``.
* audio over the limit: decoded once, cut into ``segment_seconds`` windows overlapping by
  ``segment_overlap_seconds``, each re-encoded as 16 kHz WAV.
* video over the limit (80 s with an audio track, 120 s without): the same windows. Each is
  embedded as a small *proxy video* of the window: frames sampled every
  ``video_frame_seconds`` (each held until the next) plus the window's audio, in a QuickTime
  file (lossless PNG frames, PCM audio). The model then embeds it exactly as it embeds a short
  video, so segment vectors and whole-video vectors are made the same way. Cutting by
  stream-copy re-muxing was rejected: cuts snap to keyframes, which can be a minute apart
  (x264's default is one per 250 frames), so segments would overrun the limit.
* images: one chunk.

Files over the request-bytes limit are chunked too when they can be (PDF, audio, video).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from omnivec.content import MIME_MODALITY, Part
from omnivec.errors import DecodeError, InvalidInput
from omnivec.limits import Limits
from omnivec.media.audio import encode_wav

SAMPLE_RATE = 16_000  # Hz: what decode_audio returns and what segments are encoded at
PROXY_MAX_SIDE = 1_280  # pixels: proxy frames are downscaled to this longest side


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    text_window_tokens: int = 254  # word pieces per text chunk (MiniLM's window; 1..max_text_tokens)
    text_overlap_tokens: int = 32  # shared by consecutive text chunks
    pdf_window_pages: int = 6  # pages per window (1..max_pdf_pages)
    segment_seconds: float = 60.0  # audio/video window length
    segment_overlap_seconds: float = 10.0  # shared by consecutive windows; a tail this short joins the last
    video_frame_seconds: float = 10.0  # one proxy frame per this many seconds of a video window

    def check(self, limits: Limits) -> None:
        """Refuse a policy whose chunks could break the limits they exist to respect."""
        longest = self.segment_seconds + self.segment_overlap_seconds
        media_limit = min(limits.max_audio_seconds, limits.max_video_with_audio_seconds)
        problems = [
            (not 0 < self.text_window_tokens <= limits.max_text_tokens, "text_window_tokens"),
            (not 0 <= self.text_overlap_tokens < self.text_window_tokens, "text_overlap_tokens"),
            (not 0 < self.pdf_window_pages <= limits.max_pdf_pages, "pdf_window_pages"),
            (not 0 < longest <= media_limit, "segment_seconds + segment_overlap_seconds"),
            (not 0 <= self.segment_overlap_seconds < self.segment_seconds, "segment_overlap_seconds"),
            (not self.video_frame_seconds > 0, "video_frame_seconds"),
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
def pdf_subset(data: bytes, pages: range) -> bytes:
    """A new PDF holding ``pages`` (0-based) of ``data``."""
    import pypdfium2 as pdfium

    # PDFium is not thread-safe; share the media module's lock.
    # TODO(media): replace with a public omnivec.media.pdf helper once it offers one.
    from omnivec.media.pdf import _PDFIUM_LOCK

    with _PDFIUM_LOCK:
        try:
            source = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise DecodeError(f"the bytes are not a readable PDF (corrupt or truncated): {exc}") from exc
        target = pdfium.PdfDocument.new()
        try:
            target.import_pages(source, pages=list(pages))
            buffer = io.BytesIO()
            target.save(buffer)
        finally:
            target.close()
            source.close()
    return buffer.getvalue()


def plan_pdf(data: bytes, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.pdf import count_pdf_pages

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
            part = Part.from_bytes(pdf_subset(data, window), "application/pdf")
            chunks.append(PlannedChunk("pdf_window", f"pages:{first}-{last}", (part,), pages=(first, last)))
    if n > 1:
        for page in range(n):
            part = Part.from_bytes(pdf_subset(data, range(page, page + 1)), "application/pdf")
            chunks.append(PlannedChunk("pdf_page", f"page:{page + 1}", (part,), pages=(page + 1, page + 1)))
    return chunks


# -- audio and video ---------------------------------------------------------------------------
def segment_windows(total: float, length: float, overlap: float) -> list[tuple[float, float]]:
    """[start, end) seconds covering ``total``; a tail of ``overlap`` or less joins the last window."""
    if total <= length:
        return [(0.0, total)]
    step = length - overlap
    windows: list[tuple[float, float]] = []
    start = 0.0
    while True:
        end = min(start + length, total)
        if total - end <= overlap:
            end = total
        windows.append((round(start, 3), round(end, 3)))
        if end >= total:
            return windows
        start += step


def _time_locator(start: float, end: float) -> str:
    return f"time:{start:.3f}-{end:.3f}"


def _cut(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    return samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]


def plan_audio(data: bytes, mime: str, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.audio import decode_audio, probe_audio_seconds

    seconds = probe_audio_seconds(data)
    if seconds <= limits.max_audio_seconds and len(data) <= limits.max_request_bytes:
        return [
            PlannedChunk("whole", "whole", (Part.from_bytes(data, mime),), seconds=(0.0, round(seconds, 3)))
        ]
    samples = decode_audio(data, max_seconds=seconds + limits.max_decoded_audio_seconds_slack)
    total = len(samples) / SAMPLE_RATE
    chunks = []
    for start, end in segment_windows(total, policy.segment_seconds, policy.segment_overlap_seconds):
        part = Part.from_bytes(encode_wav(_cut(samples, start, end)), "audio/wav")
        chunks.append(PlannedChunk("audio_segment", _time_locator(start, end), (part,), seconds=(start, end)))
    return chunks


def _video_seconds(data: bytes, declared: float, limits: Limits) -> float:
    """The full duration: probe_video caps its estimate just past the limit when none is declared."""
    cap = max(limits.max_video_seconds, limits.max_video_with_audio_seconds) + 1.0
    if declared < cap:
        return declared
    from omnivec.media.container import ffmpeg_errors, open_container, stream_seconds

    container, _ = open_container(data, "video")
    with container, ffmpeg_errors("video"):
        return stream_seconds(container, container.streams.video[0])


def _proxy_frame(image: Any) -> Any:
    scale = PROXY_MAX_SIDE / max(image.size)
    if scale >= 1:
        return image.convert("RGB")
    return image.convert("RGB").resize(
        (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    )


def video_proxy(frames: Sequence[Any], seconds: float, audio: np.ndarray | None) -> bytes:
    """A QuickTime video lasting ``seconds``: ``frames`` (PIL images) held in turn, plus mono audio.

    Frames are PNG (lossless) and audio 16-bit PCM at 16 kHz, so the model sees the pixels and
    samples of the window unchanged. An empty ``audio`` (the track ended earlier) is left out.
    """
    import av

    images = [_proxy_frame(f) for f in frames]
    hold = Fraction(seconds / len(images)).limit_denominator(1000)  # seconds per frame
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mov") as out:
        video = out.add_stream("png", rate=1 / hold)
        video.width, video.height = images[0].size
        video.pix_fmt = "rgb24"
        video.codec_context.time_base = hold  # one tick per frame
        sound = out.add_stream("pcm_s16le", rate=SAMPLE_RATE) if audio is not None and audio.size else None
        if sound is not None:  # every stream exists before the first packet is written
            sound.layout = "mono"
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_image(image.resize(images[0].size))  # type: ignore[no-untyped-call]
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None and audio is not None:
            _mux_pcm(out, sound, audio)
    return buffer.getvalue()


def _mux_pcm(out: Any, stream: Any, samples: np.ndarray) -> None:
    import av

    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    for start in range(0, len(pcm), SAMPLE_RATE):
        frame = av.AudioFrame.from_ndarray(
            pcm[None, start : start + SAMPLE_RATE], format="s16", layout="mono"
        )  # (1, n)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def plan_video(data: bytes, mime: str, policy: ChunkingPolicy, limits: Limits) -> list[PlannedChunk]:
    from omnivec.media.audio import decode_audio
    from omnivec.media.video import probe_video, sample_frames

    info = probe_video(data, limits)
    limit = limits.max_video_with_audio_seconds if info.has_audio else limits.max_video_seconds
    if info.seconds <= limit and len(data) <= limits.max_request_bytes:
        return [
            PlannedChunk(
                "whole", "whole", (Part.from_bytes(data, mime),), seconds=(0.0, round(info.seconds, 3))
            )
        ]
    total = _video_seconds(data, info.seconds, limits)
    audio = decode_audio(data, total + limits.max_decoded_audio_seconds_slack) if info.has_audio else None
    chunks = []
    for start, end in segment_windows(total, policy.segment_seconds, policy.segment_overlap_seconds):
        n = max(1, math.ceil((end - start) / policy.video_frame_seconds))
        times = [start + (end - start) * (i + 0.5) / n for i in range(n)]
        cut = _cut(audio, start, end) if audio is not None else None
        proxy = video_proxy(sample_frames(data, times, limits), end - start, cut)
        chunks.append(PlannedChunk("video_segment", _time_locator(start, end),
                                   (Part.from_bytes(proxy, "video/quicktime"),), seconds=(start, end)))  # fmt: skip
    return chunks


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
