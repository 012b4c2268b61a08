"""The ``qwen_vl`` backend: a Qwen2-VL / Qwen3-VL decoder that embeds a whole Content in one pass.

In the manner of Qwen3-VL-Embedding and GME, a Content becomes one chat turn::

    <|im_start|>system\\n{instruction}<|im_end|>\\n<|im_start|>user\\n
    {text, <|vision_start|><|image_pad|>...<|vision_end|>, video frames, ... in part order}
    <|im_end|>\\n<|im_start|>assistant\\n

and its vector is the final hidden state of the last real token (last-token pooling; right
padding in a batch, so each row's own positions are unchanged), L2-normalized. The instruction
follows the task type (:data:`omnivec.backends.pooling.TASK_INSTRUCTIONS`); documents get the
generic one. Leading dimensions are usable on their own (Qwen3-VL-Embedding is trained with
Matryoshka losses), so ``dim`` truncates and renormalizes.

Per modality: images go through the checkpoint's own image processor; a video is sampled at
:data:`VIDEO_FPS` frames per second (even count, at most :data:`VIDEO_MAX_FRAMES`) and patched
as one video (Qwen3-VL adds ``<t seconds>`` before each pair of frames, as its processor does);
a PDF gives each rendered page as an image followed by the page's text layer. Audio is not
native to these models: speech (an audio part, or a video's track) is transcribed with the
bundled Whisper model and the transcript goes in as text, marked as such.

The video processors of transformers 5 need torchvision, which is not installed beside the CPU
torch here, so the few lines of frame patching are done in :func:`patch_video` (the same
layout as ``Qwen2VLVideoProcessor.patchify``); images use the checkpoint's PIL image processor.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from omnivec.backends.device import Placement, placement
from omnivec.backends.pooling import (
    DEFAULT_INSTRUCTION,
    GME_DEFAULT_INSTRUCTION,
    TASK_INSTRUCTIONS,
    instruction_for,
    last_token_pool,
)
from omnivec.backends.registry import BACKENDS_VERSION, BackendInfo, register_backend
from omnivec.config import Settings
from omnivec.content import Content
from omnivec.errors import InvalidInput, LimitExceeded, MissingDependency
from omnivec.inputs import LoadedPart, load_contents
from omnivec.limits import DEFAULT_LIMITS, check_audio_seconds, check_text_tokens, check_video_seconds
from omnivec.models.base import Embeddings, EmbedOptions, ModelInfo, check_task, truncate_matryoshka

logger = logging.getLogger(__name__)

VIDEO_FPS = 1.0  # frames sampled per second of video...
VIDEO_MAX_FRAMES = 16  # ...at most this many (even: frames are patched in pairs)
VIDEO_FRAME_TOKENS = 64  # merged visual tokens per frame pair at most (sets the frame resolution)
PDF_DPI = 100.0  # page render resolution; the image processor resizes to its pixel budget anyway
MAX_SEQUENCE_TOKENS = 32_768  # text plus media placeholders of one Content
TOKENS_PER_ROW = 1024  # padded positions per batch row: a batch holds batch_size x this at most
TRANSCRIPT_LABEL = "Audio transcript: "

MAX_IMAGE_TOKENS = 1800  # merged visual tokens per image at most, whatever the processor allows


@dataclass(frozen=True, slots=True)
class Convention:
    """How one embedding model family lays out its input (each from its reference inference code)."""

    default_instruction: str  # system turn for documents and untasked calls
    tail: str  # after the user's content; the last of these tokens is pooled
    image_tokens: tuple[int, int]  # merged visual tokens per image: (min, max)


CONVENTIONS: dict[str, Convention] = {
    # Qwen3-VL-Embedding: chat template with the generation prompt; 4 to 1800 tokens of 32 x 32 pixels
    "qwen3_vl": Convention(DEFAULT_INSTRUCTION, "<|im_end|>\n<|im_start|>assistant\n", (4, MAX_IMAGE_TOKENS)),
    # GME: the generation prompt then <|endoftext|>; 256 to 1280 tokens of 28 x 28 pixels
    "qwen2_vl": Convention(
        GME_DEFAULT_INSTRUCTION, "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>", (256, 1280)
    ),
}

LIMITS: dict[str, float] = {
    "text_tokens": DEFAULT_LIMITS.max_text_tokens,  # the user's text, per content
    "sequence_tokens": MAX_SEQUENCE_TOKENS,  # text plus every media placeholder, per content
    "image_tokens": MAX_IMAGE_TOKENS,  # per image (fewer if the checkpoint's processor says so)
    "video_frames": VIDEO_MAX_FRAMES,
}

QWEN_VL_INFO = BackendInfo(
    name="qwen-vl",
    description=(
        "Qwen2-VL / Qwen3-VL decoder embedding interleaved text, images, video frames and PDF pages "
        "in one forward pass (last-token pooling, task instructions); audio via a Whisper transcript"
    ),
    modalities=("text", "image", "video", "pdf", "audio"),
    architectures=("qwen2_vl", "qwen3_vl"),
    matryoshka=True,
    reference_dim=2048,
    reference_checkpoint="Qwen/Qwen3-VL-Embedding-2B",
    limits=LIMITS,
    task_prompts=dict(TASK_INSTRUCTIONS),
)


# -- offline tokenizers and media patching (shared with the omni backend) -------------------------


def build_tokenizer(special_tokens: Sequence[str], vocab_size: int = 2_000) -> Any:
    """A small byte-level BPE with Qwen's special tokens, trained offline on omnivec's own corpus.

    Random-weight models need a tokenizer of the right kind (byte-level BPE, the special tokens
    the processors look for); the real vocabulary is not needed to measure compute.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from omnivec.models.tables import rotation_corpus

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(rotation_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        additional_special_tokens=[t for t in special_tokens if t not in ("<|endoftext|>", "<|im_end|>")],
    )


def token_id(tokenizer: Any, token: str) -> int:
    """The id of a special token, refusing a tokenizer that lacks it."""
    ids = tokenizer.convert_tokens_to_ids([token])
    if not ids or ids[0] is None or ids[0] == tokenizer.unk_token_id:
        raise InvalidInput(
            f"the tokenizer in this model folder has no {token} token; is it a Qwen checkpoint?"
        )
    return int(ids[0])


def patch_video(
    frames: np.ndarray, patch: int, merge: int, temporal: int
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Frames (T, C, H, W), normalized, sides divisible by ``patch * merge`` -> (t*h*w, C*temporal*patch*patch).

    The layout of ``Qwen2VLVideoProcessor.patchify``; the last frame repeats up to a whole
    temporal patch.
    """
    if pad := -len(frames) % temporal:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    n, c, height, width = frames.shape
    gt, gh, gw = n // temporal, height // patch, width // patch
    x = frames.reshape(gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)  # (gt, gh/m, gw/m, m, m, C, temporal, p, p)
    return np.ascontiguousarray(x.reshape(gt * gh * gw, c * temporal * patch * patch)), (gt, gh, gw)


class VisualPrep:
    """Images and video frames -> flat patches and (t, h, w) grids, with the checkpoint's settings."""

    def __init__(self, image_processor: Any, image_tokens: tuple[int, int] = (4, MAX_IMAGE_TOKENS)) -> None:
        self.processor = image_processor
        self.patch = int(image_processor.patch_size)
        self.merge = int(image_processor.merge_size)
        self.temporal = int(image_processor.temporal_patch_size)
        size, pixels = image_processor.size, (self.patch * self.merge) ** 2  # pixels per merged token
        # the checkpoint's budget within the family's range (Qwen processors allow 16k tokens an image)
        self.max_pixels = min(int(size["longest_edge"]), image_tokens[1] * pixels)
        self.min_pixels = min(max(int(size["shortest_edge"]), image_tokens[0] * pixels), self.max_pixels)
        self.mean = np.asarray(image_processor.image_mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(image_processor.image_std, np.float32).reshape(1, 3, 1, 1)

    def tokens(self, grid: tuple[int, int, int]) -> int:
        """Merged visual tokens a grid becomes in the language model."""
        return grid[0] * grid[1] * grid[2] // (self.merge * self.merge)

    def image(self, image: Any) -> tuple[np.ndarray, tuple[int, int, int]]:
        size = {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}
        out = self.processor(images=[image], size=size, return_tensors="np")
        t, h, w = (int(v) for v in out["image_grid_thw"][0])
        return np.asarray(out["pixel_values"], np.float32), (t, h, w)

    def video(self, frames: Sequence[Any]) -> tuple[np.ndarray, tuple[int, int, int]]:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        factor = self.patch * self.merge
        budget = min(self.max_pixels, VIDEO_FRAME_TOKENS * factor * factor)
        width, height = frames[0].size
        h, w = smart_resize(
            height, width, factor=factor, min_pixels=min(self.min_pixels, budget), max_pixels=budget
        )
        pixels = np.stack(
            [np.asarray(f.convert("RGB").resize((w, h), _bicubic()), np.float32) for f in frames]
        )
        x = pixels.transpose(0, 3, 1, 2) / 255.0  # (T, H, W, C) -> (T, C, H, W) in [0, 1]
        return patch_video((x - self.mean) / self.std, self.patch, self.merge, self.temporal)


def _bicubic() -> Any:
    from PIL import Image

    return Image.Resampling.BICUBIC


def sample_video(
    part: LoadedPart, settings: Settings, options: EmbedOptions
) -> tuple[list[Any], list[float], Any]:
    """Decode a video's frames at :data:`VIDEO_FPS` (even count); returns frames, times and the probe."""
    from omnivec.media.video import probe_video, sample_frames

    assert part.data is not None
    info = probe_video(part.data, settings.limits)
    check_video_seconds(info.seconds, info.has_audio and options.video_audio, settings.limits)
    n = min(VIDEO_MAX_FRAMES, max(2, math.ceil(info.seconds * VIDEO_FPS)))
    n += n % 2
    times = [info.seconds * (i + 0.5) / n for i in range(n)]
    return sample_frames(part.data, times, settings.limits), times, info


def read_audio(data: bytes, settings: Settings, max_seconds: float | None = None) -> np.ndarray:
    """An audio part's samples at 16 kHz, after the duration limit is checked from the header."""
    from omnivec.media.audio import decode_audio, probe_audio_seconds

    if max_seconds is None:
        check_audio_seconds(probe_audio_seconds(data), settings.limits)
    return decode_audio(data, max_seconds or settings.limits.max_audio_seconds)


def with_title(parts: Sequence[LoadedPart], title: str | None) -> list[LoadedPart]:
    """RETRIEVAL_DOCUMENT with a title: the title comes first, as its own line of text."""
    if not title:
        return list(parts)
    return [LoadedPart("text", "text/plain", f"Title: {title}", None, "title"), *parts]


def check_sequence(n_tokens: int) -> None:
    if n_tokens > MAX_SEQUENCE_TOKENS:
        raise LimitExceeded(
            f"content expands to {n_tokens} tokens (text plus image, video and audio placeholders); the limit "
            f"is {MAX_SEQUENCE_TOKENS}; use fewer or shorter media, or split the content"
        )


def load_weights(model_class: Any, path: Path, where: Placement) -> Any:
    """``from_pretrained`` that refuses a checkpoint whose weights do not cover the model.

    transformers would initialize missing weights at random with only a log line; an embedder
    built that way returns confident nonsense, so a mismatch is an error here.
    """
    model, report = model_class.from_pretrained(path, dtype=where.dtype, output_loading_info=True)
    if missing := sorted(report["missing_keys"]):
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InvalidInput(
            f"{path} lacks weights the {model_class.__name__} architecture needs ({shown}); "
            "is it a checkpoint of this architecture, saved with save_pretrained?"
        )
    return model.to(where.device).eval()


def model_version(path: Path, model_type: str, where: Placement) -> str:
    """Package version + architecture + precision + a digest of the model's config."""
    digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()[:8]
    precision = str(where.dtype).removeprefix("torch.").replace("float", "fp").replace("bfp16", "bf16")
    return f"{BACKENDS_VERSION}+{model_type}-{where.device}-{precision}-{digest}"


# -- one Content as a token sequence --------------------------------------------------------------


@dataclass(slots=True)
class TokenSequence:
    """One Content as token ids plus the media tensors its placeholders stand for, in order."""

    ids: list[int] = field(default_factory=list)
    text_tokens: int = 0  # tokens of the user's own text (the text limit counts these)
    pixel_values: list[np.ndarray] = field(default_factory=list)
    image_grids: list[tuple[int, int, int]] = field(default_factory=list)
    video_values: list[np.ndarray] = field(default_factory=list)
    video_grids: list[tuple[int, int, int]] = field(default_factory=list)
    video_seconds_per_grid: list[float] = field(default_factory=list)
    audio_features: list[np.ndarray] = field(default_factory=list)  # (mel bins, frames) each
    meta: list[dict[str, Any]] = field(default_factory=list)


class QwenVLEmbedder:
    """A Qwen2-VL / Qwen3-VL checkpoint in a local folder, as an omnivec Model.

    Subclasses for other Qwen families change the class attributes (card, token spellings) and
    the hooks: the prompt around the content, how audio enters, the model class and pooling.
    """

    card = QWEN_VL_INFO
    vision_start, vision_end, image_token, video_token = (
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
    )
    # config attribute -> the token it must name in the tokenizer
    placeholders: ClassVar[tuple[tuple[str, str], ...]] = (
        ("image_token_id", image_token),
        ("video_token_id", video_token),
    )
    wrong_architecture_hint = "for Qwen2.5-Omni use the qwen_omni backend"
    conventions: ClassVar[dict[str, Convention]] = CONVENTIONS

    def __init__(self, path: Path, settings: Settings) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoConfig, AutoTokenizer
            from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
        except ImportError as exc:
            raise MissingDependency(
                f"the {self.card.name} backend needs torch and transformers: pip install 'omnivec[models]'"
            ) from exc

        self.path, self.settings = path, settings
        config = AutoConfig.from_pretrained(path)
        self.model_type = str(config.model_type)
        if self.model_type not in self.card.architectures:
            raise InvalidInput(
                f"{path} holds a {self.model_type!r} model; the {self.card.name} backend loads "
                f"{', '.join(self.card.architectures)} ({self.wrong_architecture_hint})"
            )
        self.where = placement(settings)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.convention = self.conventions[self.model_type]
        self.visual = VisualPrep(Qwen2VLImageProcessorPil.from_pretrained(path), self.convention.image_tokens)
        names = (
            "<|im_start|>",
            "<|im_end|>",
            self.vision_start,
            self.vision_end,
            *(token for _, token in self.placeholders),
        )
        self.ids = {name: token_id(self.tokenizer, name) for name in names}
        for attribute, name in self.placeholders:
            if getattr(config, attribute) != self.ids[name]:
                raise InvalidInput(f"{path}: the model config's {attribute} is not the tokenizer's {name}")
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.ids["<|im_end|>"])
        self.model = self._load_model(path)
        self.info = ModelInfo(
            name=f"{self.card.name}:{path.name}",
            version=model_version(path, self.model_type, self.where),
            dim=int(config.text_config.hidden_size),
            modalities=self.card.modalities,
            matryoshka=self.card.matryoshka,
            task_prompts=self._task_prompts(),
            description=self.card.description,
        )
        self._asr: Any = None
        self._lock = threading.Lock()
        logger.info("loaded %s (%s, dim %d) from %s", self.card.name, self.info.version, self.info.dim, path)

    def _load_model(self, path: Path) -> Any:
        from transformers import Qwen2VLModel, Qwen3VLModel

        cls: Any = {"qwen2_vl": Qwen2VLModel, "qwen3_vl": Qwen3VLModel}[self.model_type]
        return load_weights(cls, path, self.where)

    # -- public ---------------------------------------------------------------------------------
    def count_tokens(self, contents: list[Content]) -> list[int]:
        texts = [[p.text for p in c.parts if p.text is not None] for c in contents]
        return [sum(len(self._encode_text(t)) for t in ts) for ts in texts]

    def embed_contents(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        task = check_task(options.task)
        native = self.info.dim
        dim = options.dim or native
        if not 1 <= dim <= native:
            raise InvalidInput(f"output dimensionality {dim} is out of range; this model gives 1 to {native}")
        if dim != native and not self.info.matryoshka:
            raise InvalidInput(
                f"{self.info.name} was not trained for Matryoshka truncation, so its first {dim} dimensions are "
                f"not a usable embedding; omit the output dimensionality (native: {native})"
            )
        if not contents:
            return Embeddings(np.zeros((0, dim), np.float32), self.info.name, self.info.version, dim, [])
        loaded = load_contents(contents, self.settings)
        if task == "RETRIEVAL_DOCUMENT":
            loaded = [with_title(parts, options.title) for parts in loaded]
        sequences = [self._sequence(parts, task, options) for parts in loaded]
        vectors = run_batches(self, sequences)
        vectors = truncate_matryoshka(vectors, dim, native)
        metadata = [
            {
                **self.info.identity(dim),
                "text_tokens": s.text_tokens,
                "sequence_tokens": len(s.ids),
                "parts": s.meta,
            }
            for s in sequences
        ]
        return Embeddings(vectors, self.info.name, self.info.version, dim, metadata)

    # -- building the sequence --------------------------------------------------------------------
    def _encode_text(self, text: str) -> list[int]:
        """User text as ids; special-token spellings inside it are split, never obeyed."""
        return list(self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    def _template(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _sequence(
        self, parts: Sequence[LoadedPart], task: str | None, options: EmbedOptions
    ) -> TokenSequence:
        seq = TokenSequence()
        seq.ids += self._template(self._prompt_head(task))
        budget = self.settings.limits.max_text_tokens
        for part in parts:
            meta: dict[str, Any] = {
                "modality": part.modality,
                "mime_type": part.mime_type,
                "source": part.source,
            }
            if part.modality == "text":
                assert part.text is not None
                ids = self._encode_text(part.text)
                if options.auto_truncate:
                    ids = ids[: max(budget - seq.text_tokens, 0)]
                seq.text_tokens += len(ids)
                seq.ids += ids
            elif part.modality == "image":
                from omnivec.media.image import decode_image

                assert part.data is not None
                self._add_image(seq, decode_image(part.data, self.settings.limits))
            elif part.modality == "pdf":
                self._add_pdf(seq, part, meta)
            elif part.modality == "video":
                self._add_video(seq, part, options, meta)
            elif part.modality == "audio":
                assert part.data is not None
                self._add_audio(seq, read_audio(part.data, self.settings), meta)
            seq.meta.append(meta)
        check_text_tokens(seq.text_tokens, self.settings.limits)
        seq.ids += self._template(self._prompt_tail())
        check_sequence(len(seq.ids))
        return seq

    def _task_prompts(self) -> dict[str, str]:
        default = self.convention.default_instruction
        return {task: instruction_for(task, default) for task in TASK_INSTRUCTIONS}

    def _prompt_head(self, task: str | None) -> str:
        instruction = instruction_for(task, self.convention.default_instruction)
        return f"<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n"

    def _prompt_tail(self) -> str:
        return self.convention.tail

    def _add_image(self, seq: TokenSequence, image: Any) -> None:
        values, grid = self.visual.image(image)
        seq.pixel_values.append(values)
        seq.image_grids.append(grid)
        seq.ids += [
            self.ids[self.vision_start],
            *[self.ids[self.image_token]] * self.visual.tokens(grid),
            self.ids[self.vision_end],
        ]

    def _add_pdf(self, seq: TokenSequence, part: LoadedPart, meta: dict[str, Any]) -> None:
        from omnivec.media.pdf import read_pdf

        assert part.data is not None
        pages = read_pdf(part.data, self.settings.limits, dpi=PDF_DPI)
        for page in pages:
            self._add_image(seq, page.image)
            if page.text.strip():
                seq.ids += self._encode_text(page.text.strip() + "\n")
        meta["pages"] = len(pages)

    def _add_video(
        self, seq: TokenSequence, part: LoadedPart, options: EmbedOptions, meta: dict[str, Any]
    ) -> None:
        frames, times, info = sample_video(part, self.settings, options)
        values, grid = self.visual.video(frames)
        seq.video_values.append(values)
        seq.video_grids.append(grid)
        seq.video_seconds_per_grid.append(self.visual.temporal * info.seconds / len(frames))
        start, end, pad = self.ids[self.vision_start], self.ids[self.vision_end], self.ids[self.video_token]
        if self.model_type == "qwen3_vl":  # Qwen3-VL: a timestamp before each temporal patch of frames
            per_frame = grid[1] * grid[2] // (self.visual.merge**2)
            for k in range(grid[0]):
                pair = times[k * self.visual.temporal : (k + 1) * self.visual.temporal] or times[-1:]
                seq.ids += self._template(f"<{sum(pair) / len(pair):.1f} seconds>")
                seq.ids += [start, *[pad] * per_frame, end]
        else:
            seq.ids += [start, *[pad] * self.visual.tokens(grid), end]
        meta.update(
            seconds=round(info.seconds, 3), frames=len(frames), frame_times=[round(t, 3) for t in times]
        )
        if info.has_audio and options.video_audio:
            from omnivec.media.audio import decode_audio

            assert part.data is not None
            self._add_audio(
                seq, decode_audio(part.data, self.settings.limits.max_video_with_audio_seconds), meta
            )

    def _add_audio(self, seq: TokenSequence, samples: np.ndarray, meta: dict[str, Any]) -> None:
        """Speech, which these models cannot hear: its Whisper transcript goes in as text."""
        with self._lock:
            if self._asr is None:
                from omnivec.encoders.asr import WhisperAsr

                self._asr = WhisperAsr(threads=self.settings.threads)
        transcript = self._asr.transcribe(samples)
        meta["transcript"] = transcript.text
        if transcript.text.strip():
            seq.ids += self._encode_text(f"\n{TRANSCRIPT_LABEL}{transcript.text.strip()}\n")

    # -- the forward pass ---------------------------------------------------------------------------
    def forward(self, batch: Sequence[TokenSequence], ids: Any, mask: Any) -> Any:
        """(N, T) ids and mask -> (N, D) pooled hidden states (not normalized)."""
        # which positions are image (1) or video (2) placeholders: M-RoPE gives those 3-D positions
        types = (ids == self.ids[self.image_token]).long() + 2 * (ids == self.ids[self.video_token]).long()
        inputs = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": types, "use_cache": False}
        hidden = self.model(**inputs, **visual_inputs(batch, self.where)).last_hidden_state  # (N, T, D)
        return last_token_pool(hidden, mask)  # (N, D)


def visual_inputs(
    batch: Sequence[TokenSequence], where: Placement, *, video_seconds: bool = False
) -> dict[str, Any]:
    """The batch's images and videos as model inputs, in placeholder order (row by row).

    ``video_seconds`` adds ``video_second_per_grid`` (seconds per temporal patch), which the omni
    thinker's time-aligned M-RoPE reads and the VL models do not take.
    """
    import torch

    def cat(arrays: list[np.ndarray]) -> Any:
        return torch.from_numpy(np.concatenate(arrays)).to(where.device, where.dtype)

    inputs: dict[str, Any] = {}
    if any(s.pixel_values for s in batch):
        inputs["pixel_values"] = cat([v for s in batch for v in s.pixel_values])  # (patches, C*t*p*p)
        inputs["image_grid_thw"] = torch.tensor(
            [g for s in batch for g in s.image_grids], device=where.device
        )
    if any(s.video_values for s in batch):
        inputs["pixel_values_videos"] = cat([v for s in batch for v in s.video_values])
        inputs["video_grid_thw"] = torch.tensor(
            [g for s in batch for g in s.video_grids], device=where.device
        )
        if video_seconds:
            seconds = [x for s in batch for x in s.video_seconds_per_grid]
            inputs["video_second_per_grid"] = torch.tensor(seconds, device=where.device)
    return inputs


def plan_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Group sequence indices into batches, shortest first, so padding stays small.

    A batch holds at most ``max_rows`` sequences and ``max_tokens`` padded positions
    (rows x longest); a sequence longer than ``max_tokens`` goes alone.
    """
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda k: lengths[k]):
        batch = batches[-1] if batches else []
        fits = batch and len(batch) < max_rows and (len(batch) + 1) * lengths[i] <= max_tokens
        if fits:
            batch.append(i)
        else:
            batches.append([i])
    return batches


def run_batches(model: Any, sequences: list[TokenSequence]) -> np.ndarray:
    """Forward the sequences in length-sorted, right-padded batches; (N, D) unit vectors in input order."""
    import torch

    where: Placement = model.where
    out = np.zeros((len(sequences), model.info.dim), np.float32)
    plan = plan_batches([len(s.ids) for s in sequences], where.batch_size, where.batch_size * TOKENS_PER_ROW)
    with torch.inference_mode():
        for rows in plan:
            batch = [sequences[i] for i in rows]
            width = max(len(s.ids) for s in batch)
            ids = torch.full((len(batch), width), model.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, s in enumerate(batch):
                ids[row, : len(s.ids)] = torch.tensor(s.ids)
                mask[row, : len(s.ids)] = 1
            pooled = model.forward(batch, ids.to(where.device), mask.to(where.device))  # (n, D)
            out[rows] = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()
    return out


@register_backend(QWEN_VL_INFO)
def load_qwen_vl(path: Path, settings: Settings) -> QwenVLEmbedder:
    """Factory: a Qwen2-VL / Qwen3-VL checkpoint folder (config, weights, tokenizer, preprocessor)."""
    return QwenVLEmbedder(Path(path), settings)


# -- random-weight models of the real architecture ----------------------------------------------

QWEN_VL_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def save_random_model(path: Path, size: str, model_type: str = "qwen3_vl") -> None:
    """Write a random-weight model of the real architecture, its tokenizer and image processor.

    Args:
        path: folder to write (``config.json``, weights, tokenizer, ``preprocessor_config.json``).
        size: "tiny" (seconds to build; tests) or "full" (Qwen3-VL-2B / Qwen2-VL-2B shapes with the
            real vocabulary size; random weights give the real compute cost).
        model_type: "qwen3_vl" or "qwen2_vl".
    """
    import torch

    model_class, config, tokenizer, processor = random_model_spec(size, model_type)
    torch.manual_seed(0)
    path = Path(path)
    save_weights(model_class, config, path, half=size == "full")
    tokenizer.save_pretrained(path)
    processor.save_pretrained(path)


# Shapes of the random models: "full" is the published checkpoint's, "tiny" builds in seconds.
# fmt: off
RANDOM_SHAPES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("qwen2_vl", "full"): {  # Qwen2-VL-2B: 2.21 B parameters
        "text": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                     num_key_value_heads=2, vocab_size=151_936, max_position_embeddings=32_768,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}),
        "vision": dict(depth=32, embed_dim=1280, num_heads=16, mlp_ratio=4, hidden_size=1536, patch_size=14),
    },
    ("qwen2_vl", "tiny"): {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=2_048, max_position_embeddings=32_768,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        "vision": dict(depth=1, embed_dim=32, num_heads=2, mlp_ratio=2, hidden_size=64, patch_size=14),
    },
    ("qwen3_vl", "full"): {  # Qwen3-VL-2B (Qwen3-VL-Embedding-2B's backbone): 2.13 B parameters
        "text": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                     num_key_value_heads=8, head_dim=128, vocab_size=151_936, max_position_embeddings=262_144,
                     rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [24, 20, 20],
                                      "mrope_interleaved": True}),
        "vision": dict(depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16, out_hidden_size=2048,
                       num_position_embeddings=2304, deepstack_visual_indexes=[5, 11, 17], patch_size=16),
    },
    ("qwen3_vl", "tiny"): {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16, vocab_size=2_048, max_position_embeddings=262_144,
                     rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [4, 2, 2],
                                      "mrope_interleaved": True}),
        "vision": dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                       num_position_embeddings=64, deepstack_visual_indexes=[0], patch_size=16),
    },
}
# fmt: on
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def random_model_spec(size: str, model_type: str = "qwen3_vl") -> tuple[Any, Any, Any, Any]:
    """(model class, config, tokenizer, image processor) of a random model; nothing is allocated."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if (model_type, size) not in RANDOM_SHAPES:
        raise InvalidInput(
            f"unknown random model {model_type}/{size}; sizes: tiny, full; types: qwen2_vl, qwen3_vl"
        )
    shapes = RANDOM_SHAPES[model_type, size]
    tokenizer = build_tokenizer(QWEN_VL_SPECIAL_TOKENS)
    ids = {t: token_id(tokenizer, t) for t in QWEN_VL_SPECIAL_TOKENS}
    end, pad = ids["<|im_end|>"], ids["<|endoftext|>"]
    text = {**shapes["text"], "bos_token_id": pad, "pad_token_id": pad, "eos_token_id": end}
    vision = {**shapes["vision"], "spatial_merge_size": 2, "temporal_patch_size": 2}
    config_class, model_class = {
        "qwen2_vl": (Qwen2VLConfig, Qwen2VLForConditionalGeneration),
        "qwen3_vl": (Qwen3VLConfig, Qwen3VLForConditionalGeneration),
    }[model_type]
    config = config_class(
        text_config=text,
        vision_config=vision,
        tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    patch = int(vision["patch_size"])
    factor = patch * 2
    qwen2 = model_type == "qwen2_vl"
    processor = Qwen2VLImageProcessorPil(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=CLIP_MEAN if qwen2 else [0.5, 0.5, 0.5],
        image_std=CLIP_STD if qwen2 else [0.5, 0.5, 0.5],
        # tiny: at most 4x4 merged tokens per image; full: the embedding models' 1280-token budget
        size={
            "shortest_edge": 4 * factor * factor,
            "longest_edge": (16 if size == "tiny" else CONVENTIONS[model_type].image_tokens[1])
            * factor
            * factor,
        },
    )
    return model_class, config, tokenizer, processor


def save_weights(model_class: Any, config: Any, path: Path, half: bool) -> None:
    """Initialize and save; full-size models are built in bf16 (half the RAM of fp32, same compute)."""
    import torch

    default = torch.get_default_dtype()
    if half:
        torch.set_default_dtype(torch.bfloat16)
    try:
        model_class(config).save_pretrained(path)
    finally:
        torch.set_default_dtype(default)
