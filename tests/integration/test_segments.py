"""omnivecSegments: long audio and video give one vector per <=30 s segment instead of a 400."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.segments import SAMPLE_RATE, bounds
from omnivec.api.settings import ServerSettings
from omnivec.content import Content, Part
from omnivec.evaluation import synth
from omnivec.media.audio import decode_audio
from omnivec.media.audio import encode_wav as wav_bytes
from omnivec.models.base import EmbedOptions

EMBED = "/v1beta/models/lite:embedContent"


@pytest.fixture(scope="module")
def server(server_settings: ServerSettings) -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(server_settings)) as url, httpx.Client(base_url=url, timeout=300) as http:
        yield http


def segmented(mime: str, data: bytes, **extra: object) -> dict[str, object]:
    part = {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}
    return {"content": {"parts": [part]}, "omnivecSegments": True, **extra}


@pytest.fixture(scope="module")
def long_video(photos: dict[str, Image.Image], media_dir: Path) -> Path:
    """130 s, silent: a cat for the first half, a rocket for the second; over the 120 s video limit."""
    frames = [photos["chelsea"].resize((224, 150)), photos["rocket"].resize((224, 150))]
    return synth.make_video(frames, media_dir / "long.mp4", seconds=130.0, fps=1)


def test_long_audio_segments_match_the_library(
    server: httpx.Client, library: Embedder, long_speech_wav: Path
) -> None:
    data = long_speech_wav.read_bytes()
    answer = server.post(EMBED, json=segmented("audio/wav", data))
    assert answer.status_code == 200, answer.text
    segments = answer.json()["omnivecSegments"]
    spans = [(s["startSeconds"], s["endSeconds"]) for s in segments]
    assert len(spans) == 3 and spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(86.4, abs=0.5)
    assert all(end - start <= 30.0 for start, end in spans)
    samples = decode_audio(data, max_seconds=3600, sample_rate=SAMPLE_RATE)
    exact = bounds(len(samples) / SAMPLE_RATE)  # the response rounds times to milliseconds
    assert spans == [(round(a, 3), round(b, 3)) for a, b in exact]
    for (start, end), segment in zip(exact, segments, strict=True):
        chunk = samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        expected = library.embed_contents(
            [Content((Part.from_bytes(wav_bytes(chunk), "audio/wav"),))], EmbedOptions()
        )
        np.testing.assert_allclose(segment["embedding"]["values"], expected.vectors[0], atol=1e-4)
    speech = library.embed_contents(
        [Content((Part(text="The quick brown fox jumps over the lazy dog."),))], EmbedOptions()
    )
    similarity = [float(np.dot(s["embedding"]["values"], speech.vectors[0])) for s in segments]
    assert (
        similarity[0] > 0.6 and similarity[2] > 0.6 and similarity[1] < similarity[0]
    )  # the middle is silence


def test_segments_take_options(server: httpx.Client, long_speech_wav: Path) -> None:
    body = segmented(
        "audio/wav", long_speech_wav.read_bytes(), outputDimensionality=16, omnivecQuantization="int8"
    )
    segments = server.post(EMBED, json=body).json()["omnivecSegments"]
    assert all(
        len(s["embedding"]["values"]) == 16 and all(isinstance(v, int) for v in s["embedding"]["values"])
        for s in segments
    )


def test_long_video_segments(
    server: httpx.Client, library: Embedder, long_video: Path, photos: dict[str, Image.Image]
) -> None:
    answer = server.post(EMBED, json=segmented("video/mp4", long_video.read_bytes()))
    assert answer.status_code == 200, answer.text
    segments = answer.json()["omnivecSegments"]
    assert len(segments) == 5 and segments[-1]["endSeconds"] == pytest.approx(130.0, abs=0.5)
    vectors = np.array([s["embedding"]["values"] for s in segments], dtype=np.float32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cat, rocket = (
        library.embed_contents(
            [Content((Part.from_bytes(_png(photos[n]), "image/png"),))], EmbedOptions()
        ).vectors[0]
        for n in ("chelsea", "rocket")
    )
    assert vectors[0] @ cat > vectors[0] @ rocket and vectors[-1] @ rocket > vectors[-1] @ cat


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.resize((224, 150)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_segments_refuse_other_contents(server: httpx.Client, photo_png: Path) -> None:
    image = server.post(EMBED, json=segmented("image/png", photo_png.read_bytes()))
    assert image.status_code == 400 and "applies to audio and video" in image.json()["error"]["message"]
    two = {"content": {"parts": [{"text": "a"}, {"text": "b"}]}, "omnivecSegments": True}
    assert "exactly one audio or video part" in server.post(EMBED, json=two).json()["error"]["message"]
    batch = {"requests": [{"content": {"parts": [{"text": "a"}]}, "omnivecSegments": True}]}
    answer = server.post("/v1beta/models/lite:batchEmbedContents", json=batch)
    assert answer.status_code == 400 and "only accepted by :embedContent" in answer.json()["error"]["message"]
