"""Text found in images, by RapidOCR (PP-OCRv4 detection and recognition in ONNX Runtime).

Small images are upscaled before detection: at native size the recognizer often merges
neighbouring words ("Quarterlyrevenue"); at twice the size word spacing survives.
Lines are returned in reading order (top to bottom, then left to right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

MIN_SCORE = 0.5  # recognizer confidence below which a line is dropped as noise
TARGET_SIDE = 1800  # upscale so the longer side approaches this (RapidOCR caps at 2000)
MAX_UPSCALE = 2.0
OCR_MAX_SIDE = 2000  # RapidOCR's max_side_len: it scales the longer side down to this
MAX_ASPECT = 60.0  # longer side / shorter side above which an image is padded before OCR


@dataclass(frozen=True, slots=True)
class OcrResult:
    text: str
    n_words: int
    mean_score: float


@register_encoder("rapidocr")
class RapidOcr:
    info = EncoderInfo(
        name="rapidocr",
        modalities=("image",),
        output="text",
        native_dim=None,
        runtime="onnxruntime",
        weights="rapidocr-onnxruntime (PP-OCRv4)",
    )

    def __init__(self, threads: int = 0) -> None:
        module = require("rapidocr_onnxruntime", "rapidocr-onnxruntime")
        kwargs: dict[str, Any] = {}
        if threads:
            kwargs = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        self.engine = module.RapidOCR(**kwargs)

    def read(self, image: Any) -> OcrResult:
        from PIL import Image

        w, h = image.size
        if max(w, h) > MAX_ASPECT * min(w, h):
            # RapidOCR scales the longer side to 2000 px and rounds both sides to multiples of 32,
            # so a sliver (a corrupt header can declare 55168x96) rounds to 0 and fails. Scale it
            # as RapidOCR would, then pad it with white to a shape it can read.
            ratio = min(1.0, OCR_MAX_SIDE / max(w, h))
            image = image.convert("RGB").resize((max(1, round(w * ratio)), max(1, round(h * ratio))))
            canvas = Image.new("RGB", (max(image.width, 64), max(image.height, 64)), "white")
            canvas.paste(image)
            image, (w, h) = canvas, canvas.size
        scale = min(MAX_UPSCALE, TARGET_SIDE / max(w, h))
        if scale > 1.05:
            image = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
        result, _ = self.engine(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RGB -> BGR
        lines = [(box, text, float(score)) for box, text, score in (result or []) if float(score) >= MIN_SCORE]
        text = " ".join(t for _, t in reading_order([(box, t) for box, t, _ in lines])).strip()
        scores = [s for _, _, s in lines]
        return OcrResult(text=text, n_words=len(text.split()), mean_score=float(np.mean(scores)) if scores else 0.0)


def reading_order(boxes: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    """Sort detected lines top to bottom, and left to right within a row.

    Boxes whose vertical centres lie within half a line height of a row's first box share
    that row, so a line the detector split in two is read in order.
    """
    if not boxes:
        return []

    def top(b: Any) -> float:
        return float(min(p[1] for p in b))

    def bottom(b: Any) -> float:
        return float(max(p[1] for p in b))

    def left(b: Any) -> float:
        return float(min(p[0] for p in b))

    height = float(np.median([bottom(b) - top(b) for b, _ in boxes]))
    ordered = sorted(boxes, key=lambda r: (top(r[0]) + bottom(r[0])) / 2)
    rows: list[list[tuple[Any, str]]] = []
    row_centre = -1e9
    for item in ordered:
        centre = (top(item[0]) + bottom(item[0])) / 2
        if centre - row_centre > height / 2:
            rows.append([])
            row_centre = centre
        rows[-1].append(item)
    return [item for row in rows for item in sorted(row, key=lambda r: left(r[0]))]
