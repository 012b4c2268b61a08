"""Models made of per-modality towers sharing one space (CLIP, SigLIP 2, CLAP, the composite ``base``).

A tower turns one kind of decoded item into unit vectors: text -> (N, D), images -> (N, D),
audio clips -> (N, D). :class:`TowerModel` decodes each part with the shared loaders, sends the
items to the towers in batches, and fuses:

* image: its vector; PDF: the mean of its pages' image vectors (the pages as rendered, the way a
  CLIP user embeds a document screenshot); video: the mean of its sampled frames, plus its audio
  track's vector when the model has an audio tower;
* audio: windows of the audio tower's length (CLAP: 10 s) embedded alone and averaged, so long
  audio is deterministic (CLAP's own random crop is never used);
* a Content's parts: ``normalize(sum of part vectors)``.

None of these models was trained with Matryoshka prefixes: a ``dim`` below the native width is
the leading dimensions renormalized (allowed, so clients asking for a width keep working, but
retrieval quality falls faster than with a Matryoshka model). They have no task instructions
either: a task type is checked and recorded, and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from omnivec.backends.registry import BACKENDS_VERSION, BackendInfo
from omnivec.config import Settings
from omnivec.content import Content
from omnivec.errors import InvalidInput, LimitExceeded, ModelNotFound, UnsupportedMedia
from omnivec.inputs import LoadedPart, load_contents, with_title
from omnivec.limits import check_audio_seconds, check_text_tokens, check_video_seconds
from omnivec.models.base import Embeddings, EmbedOptions, ModelInfo, check_task, truncate_matryoshka

logger = logging.getLogger(__name__)

SECONDS_PER_FRAME = 4.0  # video sampling: one frame per this many seconds...
MAX_FRAMES = 8  # ...at most this many
PDF_DPI = 96.0  # pages are downscaled to the tower's input size anyway


class Towers(Protocol):
    """What a :class:`TowerModel` needs from its encoders; every method returns unit rows."""

    dim: int
    modalities: tuple[str, ...]  # of "text", "image", "audio"
    max_text_tokens: int  # per text part, the text tower's context
    sample_rate: int  # audio tower input rate (0: no audio tower)
    window_seconds: float  # audio tower window; longer audio is split and averaged
    batch_size: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed_texts(self, texts: list[str], truncate: bool) -> np.ndarray: ...  # (N, D)

    def embed_images(self, images: list[Any]) -> np.ndarray: ...  # PIL RGB -> (N, D)

    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray: ...  # mono float32 -> (N, D)


@dataclass(slots=True)
class _Plan:
    """One part: indices of its items in the per-tower batches."""

    modality: str
    texts: list[int] = field(default_factory=list)
    images: list[int] = field(default_factory=list)
    clips: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    texts: list[str] = field(default_factory=list)
    images: list[Any] = field(default_factory=list)
    clips: list[np.ndarray] = field(default_factory=list)


class TowerModel:
    """A :class:`~omnivec.models.base.Model` over :class:`Towers`; see the module docstring for fusion."""

    def __init__(self, info: ModelInfo, towers: Towers, settings: Settings) -> None:
        self.info = info
        self.towers = towers
        self.settings = settings

    @classmethod
    def of(cls, card: BackendInfo, towers: Towers, settings: Settings, *, version: str, description: str) -> TowerModel:
        """A model named after its backend card; these towers were not trained for Matryoshka or task prompts."""
        info = ModelInfo(
            name=card.name,
            version=version,
            dim=towers.dim,
            modalities=card.modalities,
            matryoshka=False,
            task_prompts={},
            description=description,
        )
        return cls(info, towers, settings)

    def build(self) -> None:
        """``omnivec build``: nothing to precompute, the weights were loaded by the factory."""

    def count_tokens(self, contents: list[Content]) -> list[int]:
        return [sum(self.towers.count_tokens([p.text for p in c.parts if p.text is not None]) or [0]) for c in contents]

    def embed_contents(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        check_task(options.task)
        native = self.info.dim
        dim = options.dim or native
        if not 1 <= dim <= native:
            raise InvalidInput(f"output dimensionality {dim} is out of range; {self.info.name} gives 1 to {native}")
        if not contents:
            return Embeddings(np.zeros((0, dim), np.float32), self.info.name, self.info.version, dim, [])
        loaded = load_contents(contents, self.settings)
        if options.title and check_task(options.task) == "RETRIEVAL_DOCUMENT":
            loaded = [with_title(parts, options.title) for parts in loaded]
        batch = _Batch()
        plans = [[self._plan(part, batch, options) for part in parts] for parts in loaded]
        tokens = self._check_tokens(plans, batch, options)
        texts = self._run(self.towers.embed_texts, batch.texts, truncate=options.auto_truncate)
        images = self._run(self.towers.embed_images, batch.images)
        clips = self._run(self.towers.embed_audio, batch.clips)
        vectors = np.stack([_unit(np.sum([_part_vector(p, texts, images, clips) for p in parts], axis=0)) for parts in plans])
        vectors = truncate_matryoshka(vectors.astype(np.float32), dim, native)
        metadata = [
            {**self.info.identity(dim), "text_tokens": n, "parts": [p.meta for p in parts]}
            for parts, n in zip(plans, tokens, strict=True)
        ]
        return Embeddings(vectors, self.info.name, self.info.version, dim, metadata)

    # -- decoding parts into tower items ------------------------------------------------------
    def _plan(self, part: LoadedPart, batch: _Batch, options: EmbedOptions) -> _Plan:
        plan = _Plan(part.modality, meta={"modality": part.modality, "mime_type": part.mime_type, "source": part.source})
        has = self.towers.modalities
        if part.modality == "text":
            self._need("text", part)
            assert part.text is not None
            plan.texts.append(_add(batch.texts, part.text))
        elif part.modality == "image":
            from omnivec.media.image import decode_image

            self._need("image", part)
            assert part.data is not None
            plan.images.append(_add(batch.images, decode_image(part.data, self.settings.limits)))
        elif part.modality == "pdf":
            from omnivec.media.pdf import read_pdf

            self._need("image", part)
            assert part.data is not None
            pages = read_pdf(part.data, self.settings.limits, dpi=PDF_DPI)
            plan.images.extend(_add(batch.images, page.image) for page in pages)
            plan.meta["pages"] = len(pages)
        elif part.modality == "audio":
            self._need("audio", part)
            self._plan_audio(plan, batch, part)
        elif part.modality == "video":
            if "image" not in has and "audio" not in has:
                self._need("image", part)
            self._plan_video(plan, batch, part, options)
        return plan

    def _need(self, modality: str, part: LoadedPart) -> None:
        if modality not in self.towers.modalities:
            raise UnsupportedMedia(
                f"{self.info.name} embeds {', '.join(self.info.modalities)}, not {part.modality} "
                f"({part.source}); use a model with a {modality} tower (`omnivec models` lists them)"
            )

    def _plan_audio(self, plan: _Plan, batch: _Batch, part: LoadedPart) -> None:
        from omnivec.media.audio import decode_audio, probe_audio_seconds

        assert part.data is not None
        limits = self.settings.limits
        check_audio_seconds(probe_audio_seconds(part.data), limits)
        samples = decode_audio(part.data, limits.max_audio_seconds, sample_rate=self.towers.sample_rate)
        plan.clips.extend(_add(batch.clips, clip) for clip in self._windows(samples))
        plan.meta.update(seconds=round(len(samples) / self.towers.sample_rate, 3), windows=len(plan.clips))

    def _windows(self, samples: np.ndarray) -> list[np.ndarray]:
        size = int(self.towers.window_seconds * self.towers.sample_rate)
        if len(samples) == 0:
            return [np.zeros(self.towers.sample_rate // 10, np.float32)]  # an empty track: a short silence
        return [samples[i : i + size] for i in range(0, len(samples), size)]

    def _plan_video(self, plan: _Plan, batch: _Batch, part: LoadedPart, options: EmbedOptions) -> None:
        from omnivec.media.audio import decode_audio
        from omnivec.media.video import probe_video, sample_frames

        assert part.data is not None
        limits = self.settings.limits
        info = probe_video(part.data, limits)
        with_audio = info.has_audio and options.video_audio and "audio" in self.towers.modalities
        check_video_seconds(info.seconds, with_audio, limits)
        if "image" in self.towers.modalities:
            n = max(1, min(MAX_FRAMES, math.ceil(info.seconds / SECONDS_PER_FRAME)))
            times = [info.seconds * (i + 0.5) / n for i in range(n)]
            plan.images.extend(_add(batch.images, frame) for frame in sample_frames(part.data, times, limits))
            plan.meta.update(frames=len(plan.images), frame_times=[round(t, 3) for t in times])
        elif not with_audio:
            raise UnsupportedMedia(
                f"{self.info.name} embeds audio only, and this video ({part.source}) has no audio track to embed"
            )
        if with_audio:
            samples = decode_audio(part.data, limits.max_video_with_audio_seconds, sample_rate=self.towers.sample_rate)
            plan.clips.extend(_add(batch.clips, clip) for clip in self._windows(samples))
        plan.meta.update(seconds=round(info.seconds, 3), audio=with_audio)

    def _check_tokens(self, plans: list[list[_Plan]], batch: _Batch, options: EmbedOptions) -> list[int]:
        """Each text part must fit the text tower (or be cut, if asked); the content, the global limit."""
        cap = self.towers.max_text_tokens
        counts = self.towers.count_tokens(batch.texts) if batch.texts else []
        totals = []
        for parts in plans:
            total = 0
            for plan in parts:
                for i in plan.texts:
                    n = counts[i]
                    if n > cap and not options.auto_truncate:
                        raise LimitExceeded(
                            f"text is {n} tokens; {self.info.name}'s text tower reads at most {cap} tokens per "
                            "part; shorten it, or pass auto_truncate=True to keep the first ones"
                        )
                    total += min(n, cap)
            check_text_tokens(total, self.settings.limits)
            totals.append(total)
        return totals

    def _run(self, tower: Callable[..., np.ndarray], items: Sequence[Any], **kwargs: Any) -> np.ndarray:
        if not items:
            return np.zeros((0, self.info.dim), np.float32)
        size = self.towers.batch_size
        chunks = [tower(list(items[i : i + size]), **kwargs) for i in range(0, len(items), size)]
        return np.concatenate(chunks).astype(np.float32)


def _part_vector(plan: _Plan, texts: np.ndarray, images: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """One vector per part: its items averaged per tower, then the towers' means summed. (D,)"""
    groups = [rows[idx].mean(axis=0) for rows, idx in ((texts, plan.texts), (images, plan.images), (clips, plan.clips)) if idx]
    return _unit(np.sum([_unit(g) for g in groups], axis=0))


def _add(items: list[Any], item: Any) -> int:
    items.append(item)
    return len(items) - 1


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, D), each row of unit length."""
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# -- loading checkpoints -------------------------------------------------------------------------
def read_model_type(path: Path, expected: tuple[str, ...], backend: str) -> str:
    """The ``model_type`` in ``path/config.json``, checked against what the backend loads."""
    config = path / "config.json"
    if not config.is_file():
        raise ModelNotFound(
            f"{path} has no config.json; backend {backend} loads a transformers folder saved with "
            "save_pretrained (see docs/backends.md for the public checkpoints)"
        )
    model_type = str(json.loads(config.read_text(encoding="utf-8")).get("model_type", ""))
    if model_type not in expected:
        raise InvalidInput(
            f"{path} holds a {model_type or 'unknown'} model; backend {backend} loads {', '.join(expected)}"
        )
    return model_type


def weights_tag(path: Path) -> str:
    """A short fingerprint of a checkpoint folder (config text and weight file sizes), for versions."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:8]


def model_version(backend: str, path: Path, dtype: Any) -> str:
    precision = str(dtype).removeprefix("torch.").replace("float", "fp").replace("bfp16", "bf16")
    return f"{BACKENDS_VERSION}+{backend}-{weights_tag(path)}-{precision}"


def load_pretrained(path: Path, dtype: Any, device: str) -> tuple[Any, Any]:
    """``(model, processor)`` from a local folder; the hub is never consulted."""
    from omnivec.backends.random_weights import hf

    transformers = hf()
    model = transformers.AutoModel.from_pretrained(path, dtype=dtype, local_files_only=True).to(device).eval()
    processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
    return model, processor


def pooled(output: Any) -> Any:
    """``get_*_features`` returns a tensor in transformers 4 and an output object in 5."""
    return output if hasattr(output, "shape") else output.pooler_output


def tower_features(method: Any, inputs: Any, place: Any, float_input: str) -> np.ndarray:
    """Run one ``get_*_features`` tower: inputs to the device, ``float_input`` to its dtype -> (N, D) unit rows."""
    import torch

    tensors = {k: v.to(place.device) for k, v in inputs.items()}
    if float_input in tensors:
        tensors[float_input] = tensors[float_input].to(place.dtype)
    with torch.inference_mode():
        features = pooled(method(**tensors))  # (N, D)
    return unit_rows(features.float().cpu().numpy())
