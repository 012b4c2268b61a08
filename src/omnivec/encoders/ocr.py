"""Text found in images, by RapidOCR's PP-OCRv4 detector and recognizer (ONNX Runtime).

Detection runs at the image's own size (the longer side capped at ``DETECT_SIDE``, never
upscaled): a photo without text costs one small detector pass and nothing else. Only when the
lines it finds are small for the detector (median height under ``SMALL_LINE`` pixels) does it
look again at twice the scale, which tightens the boxes of small print. Each line is then cut
from the full-resolution image, and a line shorter than ``LINE_HEIGHT`` pixels is enlarged
(bicubic) before the recognizer shrinks it to its 48-pixel input: the recognizer keeps the
spaces between words when it downsamples a line and often drops them ("Quarterlyrevenue") when
it upsamples one. RapidOCR's default, upscaling the whole image until its shorter side is 736
pixels before detection, costs 2 to 20 times more and merges more words. The 180-degree line
classifier is not used (PaddleOCR's default too): it turned some upright lines of scanned pages
upside down. Lines of fewer than two letters or digits are dropped as noise, and the rest are
returned in reading order (top to bottom, then left to right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

MIN_SCORE = 0.5  # recognizer confidence below which a line is dropped as noise
MIN_LINE_CHARS = 2  # letters or digits: a lone "O" or "®" is mostly texture or a logo, not text
DETECT_SIDE = 960  # px: the first detection pass scales the longer side down to this, never up
SMALL_LINE = 16  # px at detection scale: median line height (text ~10 px) below which it looks again...
REDETECT_SCALE = 2.0  # ...at this many times the first pass's scale...
MAX_DETECT_SIDE = 2000  # ...with the longer side at most this (RapidOCR's own cap)
MIN_DETECT_SIDE = 32  # px: the detector needs sides of at least one 32-px cell; slivers are padded
LINE_HEIGHT = 64  # px: line crops shorter than this are enlarged to it (bicubic) before recognition


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
        kwargs: dict[str, Any] = {"det_limit_type": "max", "use_cls": False}  # "max": never upscale
        if threads:
            kwargs.update(intra_op_num_threads=threads, inter_op_num_threads=1)
        self.engine = module.RapidOCR(**kwargs)

    def read(self, image: Any) -> OcrResult:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # (H, W, 3) RGB -> BGR
        h, w = bgr.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(w, h))
        boxes = self._detect(bgr, scale)
        if boxes is None:
            return OcrResult(text="", n_words=0, mean_score=0.0)
        heights = np.linalg.norm(boxes[:, 0] - boxes[:, 3], axis=1) * scale  # (B,) at detection scale
        closer = min(REDETECT_SCALE * scale, MAX_DETECT_SIDE / max(w, h))
        if float(np.median(heights)) < SMALL_LINE and closer > scale:
            again = self._detect(bgr, closer)
            boxes = boxes if again is None else again
        recognized, _ = self.engine.text_rec([_line_crop(bgr, box) for box in boxes])  # [(text, score), ...]
        lines = [
            (box, str(found[0]), float(found[1]))
            for box, found in zip(boxes, recognized, strict=True)
            if float(found[1]) >= MIN_SCORE and sum(c.isalnum() for c in str(found[0])) >= MIN_LINE_CHARS
        ]
        text = " ".join(t for _, t in reading_order([(box, t) for box, t, _ in lines])).strip()
        score = float(np.mean([s for _, _, s in lines])) if lines else 0.0
        return OcrResult(text=text, n_words=len(text.split()), mean_score=score)

    def _detect(self, bgr: np.ndarray, scale: float) -> np.ndarray | None:
        """Text line quadrilaterals, (B, 4, 2) in ``bgr``'s pixels, found at ``scale``; None if none."""
        import cv2

        h, w = bgr.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = (
            bgr
            if scale == 1.0
            else cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        )
        # A sliver (a corrupt header can declare 20000x8) is padded by repeating its edge pixels.
        pad_h, pad_w = max(0, MIN_DETECT_SIDE - image.shape[0]), max(0, MIN_DETECT_SIDE - image.shape[1])
        if pad_h or pad_w:
            image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        boxes, _ = self.engine.text_det(np.ascontiguousarray(image))
        if boxes is None or len(boxes) == 0:
            return None
        return np.asarray(boxes, dtype=np.float32) / scale


def _line_crop(bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """One detected line, straightened (as RapidOCR cuts it), at least ``LINE_HEIGHT`` px tall."""
    import cv2

    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(
        bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if height / width >= 1.5:  # a vertical line of text: read it lying down
        crop = np.rot90(crop)
    if crop.shape[0] < LINE_HEIGHT:
        enlarged = (max(1, round(crop.shape[1] * LINE_HEIGHT / crop.shape[0])), LINE_HEIGHT)
        crop = cv2.resize(crop, enlarged, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


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
