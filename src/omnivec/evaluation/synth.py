"""Deterministic generators of real test media: speech, text images, PDFs, videos and photos.

Tests and evaluations build their inputs here instead of mocking decoders: speech comes from
espeak-ng (transcoded by ffmpeg), text images from a real TrueType font so OCR can read them,
PDFs from fpdf2 (with a text layer) or Pillow (scanned, image-only), videos from PyAV, and
photos from scikit-image's bundled samples. The same arguments always give the same media.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont

DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# A fixed date keeps generated PDFs byte-identical from run to run.
_FIXED_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

# ffmpeg arguments per output format; speech is mono, so modest bit rates stay intelligible.
_AUDIO_CODECS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "4"],
}

# Container -> (video codec, audio codec) for PyAV.
_VIDEO_CODECS: dict[str, tuple[str, str]] = {
    "mp4": ("libx264", "aac"),
    "mov": ("libx264", "aac"),
    "webm": ("libvpx-vp9", "libopus"),
}

# scikit-image samples shipped inside the wheel; the rest need `pooch` to download.
SKIMAGE_SAMPLES: tuple[str, ...] = (
    "chelsea", "coffee", "rocket", "astronaut", "camera", "horse", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "text", "brick", "grass", "gravel", "cell",
    "colorwheel", "retina", "logo", "clock", "coins", "microaneurysms", "checkerboard",
)  # fmt: skip


def speak(text: str, path: Path, fmt: str = "wav", voice: str = "en-us", speed: int = 160) -> Path:
    """Synthesize ``text`` with espeak-ng into ``path`` as wav, mp3, flac or ogg (Vorbis).

    Args:
        text: what to say.
        path: output file; its parent must exist.
        fmt: "wav" (espeak-ng's 22.05 kHz PCM) or "mp3"/"flac"/"ogg" (transcoded by ffmpeg).
        voice: espeak-ng voice name, e.g. "en-us", "de", "fr".
        speed: words per minute.

    Returns:
        ``path``.

    Raises:
        RuntimeError: espeak-ng or ffmpeg is missing or fails.
    """
    if fmt != "wav" and fmt not in _AUDIO_CODECS:
        raise ValueError(f"unknown audio format {fmt!r}; use wav, {', '.join(_AUDIO_CODECS)}")
    espeak = _require_tool("espeak-ng", "apt-get install espeak-ng")
    if fmt == "wav":
        _run([espeak, "-v", voice, "-s", str(speed), "-w", str(path), text])
        return path
    ffmpeg = _require_tool("ffmpeg", "apt-get install ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        _run([espeak, "-v", voice, "-s", str(speed), "-w", str(wav), text])
        # bitexact + no metadata: the encoder version string would otherwise vary the bytes.
        _run([
            ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "22050",
            *_AUDIO_CODECS[fmt], "-map_metadata", "-1", "-fflags", "+bitexact",
            "-flags:a", "+bitexact", str(path),
        ])  # fmt: skip
    return path


def _require_tool(name: str, install_hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; install it with `{install_hint}`")
    return found


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({result.returncode}): {result.stderr.strip()}")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU_SANS.is_file():
        return ImageFont.truetype(str(DEJAVU_SANS), size)
    return ImageFont.load_default(size=size)


def _wrap(text: str, draw: ImageDraw.ImageDraw, font: Any, max_width: int) -> list[str]:
    """Greedy word wrap by rendered width; paragraphs (newlines) are kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and draw.textlength(candidate, font=font) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def render_text_image(text: str, width: int = 900, font_size: int = 32) -> Image.Image:
    """Render black, word-wrapped text on white in a real TrueType font (RGB, height fits the text)."""
    font = _font(font_size)
    margin = font_size
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = _wrap(text, draw, font, width - 2 * margin)
    line_height = int(font_size * 1.4)
    height = 2 * margin + line_height * len(lines)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_height), line, fill="black", font=font)
    return image


def _render_page(text: str, dpi: int = 150) -> Image.Image:
    """An A4 page image at ``dpi`` with the text at ~14 pt, for scanned PDFs."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    page = Image.new("RGB", (width, height), "white")
    block = render_text_image(text, width=width, font_size=round(14 * dpi / 72))
    page.paste(block.crop((0, 0, width, min(block.height, height))), (0, 0))
    return page


def make_pdf(paragraphs: list[str], path: Path, scanned: bool = False) -> Path:
    """Write one paragraph per A4 page: a real text layer, or (``scanned``) images only.

    Returns:
        ``path``.
    """
    if not paragraphs:
        raise ValueError("make_pdf needs at least one paragraph (a PDF has at least one page)")
    if scanned:
        pages = [_render_page(p) for p in paragraphs]
        pages[0].save(
            path, "PDF", save_all=True, append_images=pages[1:], resolution=150,
            creationDate=_FIXED_DATE.timetuple(), modDate=_FIXED_DATE.timetuple(),
        )  # fmt: skip
        return path
    from fpdf import FPDF  # dev dependency: only test and evaluation code writes PDFs

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_FIXED_DATE)
    if DEJAVU_SANS.is_file():
        pdf.add_font("DejaVu", fname=str(DEJAVU_SANS))  # Unicode; core Helvetica is Latin-1 only
        family = "DejaVu"
    else:
        family = "Helvetica"
    for paragraph in paragraphs:
        pdf.add_page()
        pdf.set_font(family, size=14)
        pdf.multi_cell(0, 8, paragraph)
    pdf.output(str(path))
    return path


def _even_size(image: Image.Image) -> tuple[int, int]:
    # yuv420p subsamples chroma by 2, so encoders need even sides.
    return max(2, image.width - image.width % 2), max(2, image.height - image.height % 2)


def _frame_at(frames: list[Image.Image], index: int, total: int) -> Image.Image:
    """Slideshow: each input image holds for an equal share of the ``total`` output frames."""
    return frames[min(len(frames) - 1, index * len(frames) // total)]


def _wav_frames(wav: Path, seconds: float) -> Iterator[av.AudioFrame]:
    """Decoded frames of ``wav``, cut at ``seconds``."""
    with av.open(str(wav)) as container:
        stream = container.streams.audio[0]
        kept = 0
        limit = round(seconds * stream.rate)
        for frame in container.decode(stream):
            if kept >= limit:
                return
            if kept + frame.samples > limit:
                array = frame.to_ndarray()[:, : limit - kept]
                cut = av.AudioFrame.from_ndarray(array, format=frame.format.name, layout=frame.layout.name)
                cut.sample_rate = frame.sample_rate
                frame = cut
            kept += frame.samples
            yield frame


def _add_video_stream(out: OutputContainer, codec: str, size: tuple[int, int], fps: int) -> VideoStream:
    stream = cast(VideoStream, out.add_stream(codec, rate=fps))
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = Fraction(1, fps)
    if codec == "libx264":
        stream.codec_context.options = {"threads": "1"}  # single-threaded x264 is bit-reproducible
    return stream


def _add_audio_stream(out: OutputContainer, codec: str) -> AudioStream:
    stream = cast(AudioStream, out.add_stream(codec, rate=48000 if codec == "libopus" else 44100))
    stream.layout = "mono"
    return stream


def _mux_audio(out: OutputContainer, stream: AudioStream, wav: Path, seconds: float) -> None:
    ctx = stream.codec_context
    # frame_size: AAC and Opus take fixed-size frames; the resampler re-chunks to that size.
    resampler = av.AudioResampler(format=ctx.format.name, layout=ctx.layout.name, rate=ctx.sample_rate,
                                  frame_size=ctx.frame_size or None)  # fmt: skip
    pts = 0
    frames: Iterator[av.AudioFrame | None] = itertools.chain(_wav_frames(wav, seconds), [None])
    for frame in frames:
        for chunk in resampler.resample(frame):  # None flushes the resampler
            chunk.pts = pts
            pts += chunk.samples
            out.mux(stream.encode(chunk))
    out.mux(stream.encode(None))


def make_video(
    frames: list[Image.Image] | Image.Image,
    path: Path,
    seconds: float,
    fps: int = 4,
    audio_wav: Path | None = None,
    container: str = "mp4",
) -> Path:
    """Encode a slideshow of ``frames`` lasting ``seconds``, optionally with an audio track.

    Args:
        frames: one image or several; each is shown for an equal share of the duration, all
            resized to the first image's size rounded down to even sides.
        path: output file.
        seconds: video duration.
        fps: frame rate.
        audio_wav: a WAV to mux as AAC (mp4/mov) or Opus (webm), cut at ``seconds``.
        container: "mp4", "mov" or "webm" (H.264 for the first two, VP9 for webm).

    Returns:
        ``path``.
    """
    if container not in _VIDEO_CODECS:
        raise ValueError(f"unknown container {container!r}; use {', '.join(_VIDEO_CODECS)}")
    images = [frames] if isinstance(frames, Image.Image) else list(frames)
    if not images or seconds <= 0 or fps <= 0:
        raise ValueError("make_video needs at least one frame, seconds > 0 and fps > 0")
    size = _even_size(images[0])
    images = [im.convert("RGB").resize(size) for im in images]
    video_codec, audio_codec = _VIDEO_CODECS[container]
    total = max(1, round(seconds * fps))
    # bitexact: no random segment UID or encoder version, so the bytes are reproducible.
    with av.open(str(path), mode="w", format=container, container_options={"fflags": "+bitexact"}) as out:
        video = _add_video_stream(out, video_codec, size, fps)
        audio = _add_audio_stream(out, audio_codec) if audio_wav is not None else None
        for i in range(total):
            frame = av.VideoFrame.from_ndarray(np.asarray(_frame_at(images, i, total)), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None and audio_wav is not None:
            _mux_audio(out, audio, audio_wav, seconds)
    return path


def _to_rgb(array: np.ndarray) -> Image.Image:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    image = Image.fromarray(array)
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def skimage_photos() -> list[tuple[str, Image.Image]]:
    """(name, RGB image) for every scikit-image sample that loads without downloading (pooch)."""
    from skimage import data  # dev dependency

    photos: list[tuple[str, Image.Image]] = []
    for name in SKIMAGE_SAMPLES:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            array = loader()
        except (ModuleNotFoundError, ImportError, OSError):
            continue  # this scikit-image version fetches it with pooch; offline we skip it
        photos.append((name, _to_rgb(np.asarray(array))))
    return photos
