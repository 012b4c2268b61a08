"""The ``lite`` model: one 384-d space anchored on all-MiniLM-L6-v2, offline on a CPU.

How each modality reaches the text space (all vectors unit length):

* text: MiniLM, windowed beyond 256 word pieces (see :mod:`omnivec.encoders.minilm`);
* image: ``normalize((1 - a) * c + a * t)`` where ``c`` is the ConSE vector (probability-weighted
  mean of the class-table vectors of the classifier's top ``TOP_K`` classes), ``t`` the MiniLM
  vector of the text OCR found, and ``a = w / (w + OCR_HALF_WORDS)`` for ``w`` words found: an
  image of a page is mostly its text, a photo with a stray word mostly its objects;
* audio: Whisper transcript -> text path; no speech -> the empty text's vector, weight 0.25;
* video: mean of the sampled frames' image vectors, fused with its audio track's transcript;
* PDF: per page the image rule with the text layer (or the OCR of the rendered page when it has
  no text layer) as ``t``; pages averaged.

Parts of one Content are fused as ``normalize(sum_i w_i v_i)``, with ``w = 1`` for every part
except audio without speech (0.25). Finally a fixed orthogonal rotation (PCA on a text corpus)
orders dimensions by information, so Matryoshka prefixes work; dot products are unchanged.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.blas import one_thread
from omnivec.config import Settings
from omnivec.content import Content
from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.inputs import LoadedPart, load_contents, with_title
from omnivec.limits import check_audio_seconds, check_text_tokens, check_video_seconds
from omnivec.models import tables
from omnivec.models.base import (
    Embeddings,
    EmbedOptions,
    ModelInfo,
    check_task,
    register_model,
    truncate_matryoshka,
)

logger = logging.getLogger(__name__)

# The version of what lite computes: encoders' weights, class table and rotation recipes, fusion
# rules. Bump it when vectors change; a package release that changes none of these keeps it, so
# existing indexes stay valid. The model version adds the runtime and precision of each encoder.
# 2: OCR detects at the image's own size and enlarges small lines before recognition (other text).
LITE_VERSION = "2"
RUNTIMES = {"torch": "torch-fp32", "onnx-fp32": "onnx-fp32", "onnx-int8": "onnx-int8"}  # setting -> tag
DIM = 384
TOP_K = 10  # classes in the ConSE combination
OCR_HALF_WORDS = 3.0  # OCR words at which text and objects weigh the same
NO_SPEECH_WEIGHT = 0.25
SECONDS_PER_FRAME = 4.0  # video sampling: one frame per this many seconds...
MAX_FRAMES = 4  # ...at most this many (each frame costs a classifier pass and an OCR pass)
PDF_DPI = 150.0  # page render resolution: word spacing survives OCR at this size
MIN_TEXT_LAYER_CHARS = 20  # fewer characters than this on a page: treat it as a scan


@dataclass(slots=True)
class _PartPlan:
    """What a decoded part needs from the encoders, as indices into shared batches."""

    modality: str
    texts: list[int] = field(default_factory=list)  # indices into the text batch
    images: list[int] = field(default_factory=list)  # indices into the image batch
    image_texts: list[int] = field(default_factory=list)  # per image: text index or -1
    transcript: int | None = None  # text index of a transcript
    meta: dict[str, Any] = field(default_factory=dict)


class _Batch:
    """Work gathered across all contents of a call, so each encoder runs once per call."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.images: list[Any] = []
        self.ocr_images: list[tuple[int, int]] = []  # (image index, text slot to fill)
        self.token_ids: dict[int, list[int]] = {}  # text slot -> word pieces, once counted

    def add_text(self, text: str) -> int:
        self.texts.append(text)
        return len(self.texts) - 1

    def add_image(self, image: Any) -> int:
        self.images.append(image)
        return len(self.images) - 1


@register_model("lite")
class LiteModel:
    """The default model; encoders load lazily, once, on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.info = ModelInfo(
            name="lite",
            version=model_version(self.settings),
            dim=DIM,
            modalities=("text", "image", "audio", "video", "pdf"),
            matryoshka=True,
            task_prompts={},  # MiniLM was not trained with instructions; tasks change nothing
            description="MiniLM text space; images by ConSE + OCR; speech by Whisper tiny.en",
        )
        self._lock = threading.Lock()
        self._text: Any = None
        self._vision: Any = None
        self._ocr: Any = None
        self._asr: Any = None
        self._class_table: np.ndarray | None = None
        self._rotation: np.ndarray | None = None
        self._weights_digest: str | None = None
        # Every encoder gets the same explicit count: left at 0, CTranslate2 starts 4 threads and
        # each ONNX session one per core, more threads than a small machine has cores.
        self.threads = self.settings.threads or _usable_cores()

    # -- lazy encoders ------------------------------------------------------------------
    @property
    def text_encoder(self) -> Any:
        with self._lock:
            if self._text is None:
                from omnivec.encoders.minilm import MiniLMEncoder

                self._text = MiniLMEncoder(
                    threads=self.threads, runtime=self.settings.runtime, cache_dir=self.settings.cache_dir
                )
            return self._text

    @property
    def vision(self) -> Any:
        with self._lock:
            if self._vision is None:
                from omnivec.encoders.convnet import EfficientNetLite0

                self._vision = EfficientNetLite0(
                    threads=self.threads, runtime=self.settings.vision_runtime,
                    cache_dir=self.settings.cache_dir,
                )
            return self._vision

    @property
    def ocr(self) -> Any:
        with self._lock:
            if self._ocr is None:
                from omnivec.encoders.ocr import RapidOcr

                self._ocr = RapidOcr(threads=self.threads)
            return self._ocr

    @property
    def asr(self) -> Any:
        with self._lock:
            if self._asr is None:
                from omnivec.encoders.asr import WhisperAsr

                self._asr = WhisperAsr(threads=self.threads)
            return self._asr

    def _cache_path(self, name: str, recipe: str) -> Path:
        from omnivec.encoders.minilm import default_weights

        # The runtime is part of the key: tables built with int8 vectors must not serve fp32 ones.
        if self._weights_digest is None:  # hashing the 90 MB weights once, not once per table
            self._weights_digest = tables.weights_key(default_weights() / "model.safetensors", "")
        key = tables.text_key(self._weights_digest, f"{recipe}:{LITE_VERSION}:{self.settings.runtime}")
        return self.settings.cache_dir / "lite" / f"{name}-{key}.npy"

    @property
    def class_table(self) -> np.ndarray:
        if self._class_table is None:
            path = self._cache_path("class-table", tables.TABLE_RECIPE)
            self._class_table = tables.cached_array(
                path, lambda: tables.build_class_table(self.text_encoder.encode)
            )
        return self._class_table

    @property
    def rotation(self) -> np.ndarray:
        if self._rotation is None:
            path = self._cache_path("rotation", tables.ROTATION_RECIPE)
            self._rotation = tables.cached_array(
                path, lambda: tables.fit_rotation(self.text_encoder.encode(tables.rotation_corpus()))
            )
        return self._rotation

    def build(self) -> None:
        """Load every encoder and compute the derived tables now (``omnivec build``)."""
        _ = self.text_encoder, self.class_table, self.rotation, self.vision, self.ocr, self.asr  # exports ONNX graphs

    # -- public ---------------------------------------------------------------------------
    def count_tokens(self, contents: list[Content]) -> list[int]:
        texts = [[p.text for p in c.parts if p.text is not None] for c in contents]
        return [sum(len(ids) for ids in self.text_encoder.tokenize(t)) if t else 0 for t in texts]

    def embed_contents(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        task = check_task(options.task)
        if options.dim is not None and not 1 <= options.dim <= DIM:
            raise InvalidInput(f"output dimensionality {options.dim} is out of range; lite gives 1 to {DIM}")
        if not contents:
            return Embeddings(np.zeros((0, options.dim or DIM), np.float32), self.info.name, self.info.version, options.dim or DIM, [])
        loaded = load_contents(contents, self.settings)
        if task == "RETRIEVAL_DOCUMENT" and options.title:
            loaded = [with_title(parts, options.title) for parts in loaded]
        batch = _Batch()
        plans = [[self._plan_part(p, batch, options) for p in parts] for parts in loaded]
        tokens = self._check_tokens(plans, batch, options)
        text_vectors = self._run_text(batch, plans)
        image_vectors = self._run_images(batch)
        vectors = np.stack([self._fuse(ps, batch, text_vectors, image_vectors) for ps in plans])
        if options.rotate:
            with one_thread():
                vectors = vectors @ self.rotation  # (N, D) @ (D, D): same dot products, informative dims first
        dim = options.dim or DIM
        vectors = truncate_matryoshka(vectors.astype(np.float32), dim, DIM)
        metadata = [
            {**self.info.identity(dim), "text_tokens": n, "parts": [p.meta for p in ps]}
            for ps, n in zip(plans, tokens, strict=True)
        ]
        return Embeddings(vectors, self.info.name, self.info.version, dim, metadata)

    # -- planning: decode media, queue encoder work -------------------------------------------
    def _plan_part(self, part: LoadedPart, batch: _Batch, options: EmbedOptions) -> _PartPlan:
        plan = _PartPlan(part.modality, meta={"modality": part.modality, "mime_type": part.mime_type, "source": part.source})
        if part.modality == "text":
            assert part.text is not None
            plan.texts.append(batch.add_text(part.text))
        elif part.modality == "image":
            from omnivec.media.image import decode_image

            assert part.data is not None
            self._queue_image(plan, batch, decode_image(part.data, self.settings.limits), ocr=True)
        elif part.modality == "audio":
            self._plan_audio(plan, batch, part)
        elif part.modality == "video":
            self._plan_video(plan, batch, part, options)
        elif part.modality == "pdf":
            self._plan_pdf(plan, batch, part)
        return plan

    def _queue_image(self, plan: _PartPlan, batch: _Batch, image: Any, ocr: bool, text: str | None = None) -> None:
        index = batch.add_image(image)
        plan.images.append(index)
        if text is not None:
            plan.image_texts.append(batch.add_text(text))
        elif ocr:
            slot = batch.add_text("")  # filled by OCR before the text batch runs
            batch.ocr_images.append((index, slot))
            plan.image_texts.append(slot)
        else:
            plan.image_texts.append(-1)

    def _transcribe(self, plan: _PartPlan, batch: _Batch, samples: np.ndarray) -> None:
        transcript = self.asr.transcribe(samples)
        plan.transcript = batch.add_text(transcript.text)
        plan.meta["transcript"] = transcript.text
        plan.meta["segments"] = [list(s) for s in transcript.segments]
        plan.meta.setdefault("seconds", round(transcript.seconds, 3))  # a video keeps its own length

    def _plan_audio(self, plan: _PartPlan, batch: _Batch, part: LoadedPart) -> None:
        from omnivec.media.audio import decode_audio, probe_audio_seconds

        assert part.data is not None
        limits = self.settings.limits
        check_audio_seconds(probe_audio_seconds(part.data), limits)
        self._transcribe(plan, batch, decode_audio(part.data, limits.max_audio_seconds))

    def _plan_video(self, plan: _PartPlan, batch: _Batch, part: LoadedPart, options: EmbedOptions) -> None:
        from omnivec.media.audio import decode_audio
        from omnivec.media.video import probe_video, sample_frames

        assert part.data is not None
        limits = self.settings.limits
        info = probe_video(part.data, limits)
        with_audio = info.has_audio and options.video_audio
        check_video_seconds(info.seconds, with_audio, limits)
        n = max(1, min(MAX_FRAMES, math.ceil(info.seconds / SECONDS_PER_FRAME)))
        times = [info.seconds * (i + 0.5) / n for i in range(n)]
        for frame in sample_frames(part.data, times, limits):
            self._queue_image(plan, batch, frame, ocr=True)
        plan.meta.update(seconds=round(info.seconds, 3), frames=len(plan.images), frame_times=[round(t, 3) for t in times])
        if with_audio:
            self._transcribe(plan, batch, decode_audio(part.data, limits.max_video_with_audio_seconds))

    def _plan_pdf(self, plan: _PartPlan, batch: _Batch, part: LoadedPart) -> None:
        from omnivec.media.pdf import read_pdf

        assert part.data is not None
        pages = read_pdf(part.data, self.settings.limits, dpi=PDF_DPI)
        scanned = []
        for page in pages:
            has_layer = len(page.text.strip()) >= MIN_TEXT_LAYER_CHARS
            text = page.text if has_layer else None
            if not has_layer:
                scanned.append(page.index)
            self._queue_image(plan, batch, page.image, ocr=not has_layer, text=text)
        plan.meta.update(pages=len(pages), ocr_pages=scanned)

    def _check_tokens(self, plans: list[list[_PartPlan]], batch: _Batch, options: EmbedOptions) -> list[int]:
        """Count each content's text tokens; refuse (or, if asked, cut) text over the limit."""
        limit = self.settings.limits.max_text_tokens
        counts = []
        for parts in plans:
            own = [i for p in parts if p.modality == "text" for i in p.texts]
            if not options.auto_truncate and sum(len(batch.texts[i]) for i in own) > limit:
                from omnivec.encoders.minilm import min_tokens

                # Megabytes of text are refused before tokenizing them (seconds and hundreds of MB).
                at_least = sum(min_tokens(batch.texts[i]) for i in own)
                if at_least > limit:
                    raise LimitExceeded(
                        f"text is at least {at_least} tokens; the limit is {limit} tokens per content; shorten "
                        "it, pass auto_truncate=True, or use `omnivec index add`, which chunks long text"
                    )
            ids = self.text_encoder.tokenize([batch.texts[i] for i in own])
            total = sum(len(x) for x in ids)
            if total > limit and options.auto_truncate:
                budget = limit
                for k, x in enumerate(ids):
                    ids[k] = x[: max(budget, 0)]
                    budget -= len(x)
                total = limit
            batch.token_ids.update(zip(own, ids, strict=True))  # counted once, encoded as is
            check_text_tokens(total, self.settings.limits)
            counts.append(total)
        return counts

    # -- running the encoders ------------------------------------------------------------------
    def _run_text(self, batch: _Batch, plans: list[list[_PartPlan]]) -> np.ndarray:
        for image_index, slot in batch.ocr_images:
            batch.texts[slot] = self.ocr.read(batch.images[image_index]).text
        for plan in (p for parts in plans for p in parts):
            if plan.modality in ("image", "video", "pdf"):
                found = [batch.texts[s] for s in plan.image_texts if s >= 0]
                plan.meta["ocr_text" if plan.modality != "pdf" else "page_text"] = found
        if not batch.texts:
            return np.zeros((0, DIM), np.float32)
        missing = [i for i in range(len(batch.texts)) if i not in batch.token_ids]
        batch.token_ids.update(zip(missing, self.text_encoder.tokenize([batch.texts[i] for i in missing]), strict=True))
        ids = [batch.token_ids[i] for i in range(len(batch.texts))]
        return np.asarray(self.text_encoder.encode_ids(ids), dtype=np.float32)

    def _run_images(self, batch: _Batch) -> np.ndarray:
        if not batch.images:
            return np.zeros((0, DIM), np.float32)
        probs = self.vision.classify(batch.images)  # (M, 1000)
        return conse(probs, self.class_table, TOP_K)

    # -- fusion ------------------------------------------------------------------------------
    def _fuse(self, parts: list[_PartPlan], batch: _Batch, texts: np.ndarray, images: np.ndarray) -> np.ndarray:
        total = np.zeros(DIM, dtype=np.float32)
        for plan in parts:
            vector, weight = self._part_vector(plan, batch, texts, images)
            total += weight * vector
        return _unit(total)

    def _part_vector(
        self, plan: _PartPlan, batch: _Batch, texts: np.ndarray, images: np.ndarray
    ) -> tuple[np.ndarray, float]:
        if plan.modality == "text":
            return texts[plan.texts[0]], 1.0
        visual = [_image_vector(plan, k, batch, texts, images) for k in range(len(plan.images))]
        if plan.modality in ("image", "pdf"):
            return _unit(np.mean(visual, axis=0)), 1.0
        speech = plan.transcript is not None and bool(plan.meta.get("transcript"))
        if plan.modality == "audio":
            assert plan.transcript is not None
            return texts[plan.transcript], 1.0 if speech else NO_SPEECH_WEIGHT
        # video: frames, plus the spoken track when there is speech in it
        frames = _unit(np.mean(visual, axis=0))
        if speech:
            assert plan.transcript is not None
            return _unit(frames + texts[plan.transcript]), 1.0
        return frames, 1.0


def model_version(settings: Settings) -> str:
    """``1+text-onnx-int8.vision-onnx-fp32``: what computed the vectors, not which package release.

    Speech (Whisper tiny.en through CTranslate2 int8) and OCR (RapidOCR, ONNX fp32) have one
    runtime each, covered by :data:`LITE_VERSION`.
    """
    return f"{LITE_VERSION}+text-{_runtime_tag(settings.runtime)}.vision-{_runtime_tag(settings.vision_runtime)}"


def _usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's core count)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _runtime_tag(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise InvalidInput(f"unknown runtime {runtime!r}; expected one of: {', '.join(RUNTIMES)}")
    return RUNTIMES[runtime]


def conse(probs: np.ndarray, class_table: np.ndarray, top_k: int) -> np.ndarray:
    """ConSE (Norouzi et al., 2014): (M, C) probabilities -> (M, D) unit vectors in text space."""
    top = np.argsort(-probs, axis=1)[:, :top_k]  # (M, K)
    weights = np.take_along_axis(probs, top, axis=1)  # (M, K)
    weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    vectors = np.einsum("mk,mkd->md", weights, class_table[top])  # (M, K, D) -> (M, D)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _image_vector(plan: _PartPlan, k: int, batch: _Batch, texts: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The image rule: objects (ConSE) and found text, weighted by how many words were found."""
    concept = images[plan.images[k]]
    slot = plan.image_texts[k]
    if slot < 0:
        return concept
    words = len(batch.texts[slot].split())
    alpha = words / (words + OCR_HALF_WORDS)
    return _unit((1 - alpha) * concept + alpha * texts[slot])


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)
