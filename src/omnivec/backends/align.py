"""The text-pivot bridge from CLAP's space into the CLIP/SigLIP space (in the manner of C-MCR).

CLAP puts an audio clip and its caption near each other; CLIP puts an image and its caption
near each other. Both have a text tower, so captions alone are enough to connect the spaces:
embed each caption with both text towers and fit the affine map

    W, b = argmin ||(A - mean A) W + b - C||^2 + lambda ||W||^2     A = CLAP_text, C = CLIP_text

(ridge least squares, lambda picked on a validation split of the training captions). At
embedding time an audio clip goes CLAP_audio -> W, b -> renormalized, landing near the CLIP
vectors of texts (and so of images) that describe it. No audio, image or paired data is needed.

Limits: the map only knows what the captions talk about (fit it on captions of the sounds you
expect); it inherits CLAP's audio-text gap (audio vectors are not as close to their captions
as the captions' own vectors are); and it is linear, so it keeps CLAP's neighborhoods rather
than learning CLIP's. The held-out error it prints measures the text-to-text fit only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.backends.towers import unit_rows
from omnivec.config import Settings
from omnivec.errors import InvalidInput, ModelNotFound

logger = logging.getLogger(__name__)

BRIDGE_FILE = "bridge.npz"
CONFIG_FILE = "base.json"
RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # lambda, relative to the mean feature variance
HELD_OUT = 0.2  # fraction of captions kept out of the fit, to report the error on
MIN_CAPTIONS = 10


@dataclass(frozen=True, slots=True)
class Bridge:
    """An affine map from the audio model's space to the image model's: (N, Da) -> (N, Dc)."""

    weight: np.ndarray  # (Da, Dc)
    bias: np.ndarray  # (Dc,)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return unit_rows(vectors @ self.weight + self.bias)  # (N, Da) @ (Da, Dc) -> (N, Dc)


@dataclass(frozen=True, slots=True)
class BridgeReport:
    """How well the bridge carries held-out captions from one text tower to the other."""

    captions: int
    train: int
    held_out: int
    ridge: float  # chosen lambda
    error_before: float  # held-out mean (1 - cosine) unfitted: identity if widths match, else zero map (1.0)
    error_after: float  # held-out mean (1 - cosine) through the fitted bridge
    top1_before: float  # held-out captions whose mapped vector is nearest its own CLIP text vector
    top1_after: float


def fit_bridge(
    source: np.ndarray, target: np.ndarray, held_out: float = HELD_OUT, seed: int = 0
) -> tuple[Bridge, BridgeReport]:
    """Fit ``source -> target`` (rows are the same captions) and report the held-out error.

    Args:
        source: (N, Da) unit vectors of the captions from the audio model's text tower.
        target: (N, Dc) unit vectors of the same captions from the image model's text tower.
        held_out: fraction of captions left out of the fit to measure it.
        seed: the split's random seed.
    """
    n = len(source)
    if n < MIN_CAPTIONS or len(target) != n:
        raise InvalidInput(f"the bridge needs at least {MIN_CAPTIONS} captions embedded by both models; got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(2, round(n * held_out))
    test, train = order[:n_test], order[n_test:]
    ridge = _pick_ridge(source[train], target[train], seed)
    bridge = _ridge_fit(source[train], target[train], ridge)
    identity = source.shape[1] == target.shape[1]
    before = unit_rows(source[test]) if identity else np.zeros_like(target[test])
    after = bridge.apply(source[test])
    report = BridgeReport(
        captions=n,
        train=len(train),
        held_out=len(test),
        ridge=ridge,
        error_before=_error(before, target[test]),
        error_after=_error(after, target[test]),
        top1_before=_top1(before, target[test]) if identity else 1.0 / len(test),
        top1_after=_top1(after, target[test]),
    )
    return _ridge_fit(source, target, ridge), report  # the saved bridge uses every caption


def _ridge_fit(x: np.ndarray, y: np.ndarray, ridge: float) -> Bridge:
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = (x - mx).astype(np.float64), (y - my).astype(np.float64)
    gram = xc.T @ xc  # (Da, Da)
    scale = max(float(np.trace(gram)) / gram.shape[0], 1e-12)
    weight = np.linalg.solve(gram + ridge * scale * np.eye(gram.shape[0]), xc.T @ yc)  # (Da, Dc)
    bias = my - mx @ weight
    return Bridge(weight.astype(np.float32), bias.astype(np.float32))


def _pick_ridge(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    order = np.random.default_rng(seed + 1).permutation(len(x))
    n_val = max(2, len(x) // 5)
    val, fit = order[:n_val], order[n_val:]
    return min(RIDGES, key=lambda r: _error(_ridge_fit(x[fit], y[fit], r).apply(x[val]), y[val]))


def _error(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean (1 - cosine); a zero prediction counts as cosine 0."""
    return float(1.0 - np.mean(np.sum(predicted * unit_rows(target), axis=1)))


def _top1(predicted: np.ndarray, target: np.ndarray) -> float:
    scores = predicted @ unit_rows(target).T  # (M, M)
    return float(np.mean(scores.argmax(axis=1) == np.arange(len(target))))


# -- files ----------------------------------------------------------------------------------------
def save_bridge(out: Path, bridge: Bridge, report: BridgeReport, image_model: Path, image_backend: str, audio_model: Path) -> Path:
    """Write ``bridge.npz`` and ``base.json`` into ``out``: the folder backend ``base`` loads."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / BRIDGE_FILE, weight=bridge.weight, bias=bridge.bias)
    config = {
        "image_backend": image_backend,
        "image_model": _relative(image_model, out),
        "audio_model": _relative(audio_model, out),
        "bridge": BRIDGE_FILE,
        "method": "text-pivot ridge regression CLAP_text -> CLIP_text (C-MCR style)",
        "report": asdict(report),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out / CONFIG_FILE


def _relative(path: Path, base: Path) -> str:
    path, base = path.resolve(), base.resolve()
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


@dataclass(frozen=True, slots=True)
class BaseConfig:
    image_backend: str  # "clip" or "siglip2"
    image_model: Path
    audio_model: Path
    bridge: Bridge
    bridge_tag: str  # fingerprint of the bridge file, part of the model version


def load_base_config(folder: Path) -> BaseConfig:
    """Read what ``omnivec align`` saved; model paths are relative to ``folder`` unless absolute."""
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelNotFound(
            f"{folder} has no {CONFIG_FILE}; create it with `omnivec align --audio-model ... "
            f"--image-model ... --captions ... --out {folder}`"
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    bridge_path = folder / config["bridge"]
    with np.load(bridge_path, allow_pickle=False) as arrays:
        bridge = Bridge(arrays["weight"], arrays["bias"])
    tag = hashlib.sha256(bridge_path.read_bytes()).hexdigest()[:8]
    return BaseConfig(
        str(config["image_backend"]), folder / config["image_model"], folder / config["audio_model"], bridge, tag
    )


def read_captions(path: Path) -> list[str]:
    """One caption per line; blank lines and repeats dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read captions from {path}: {exc.strerror}") from None
    captions = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    if len(captions) < MIN_CAPTIONS:
        raise InvalidInput(f"{path} has {len(captions)} distinct captions; the bridge needs at least {MIN_CAPTIONS}")
    return captions


def align(
    audio_model: Path,
    image_model: Path,
    captions: list[str],
    out: Path,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> BridgeReport:
    """Embed ``captions`` with both text towers, fit the bridge, save it into ``out``.

    Args:
        audio_model: a CLAP folder.
        image_model: a CLIP or SigLIP 2 folder.
        captions: texts describing sounds (and what they look like); hundreds to thousands.
        out: the folder to write (backend ``base`` loads it).
        settings: device and threads.
        progress: called with the number of captions embedded by each tower call (twice per caption).

    Returns:
        The held-out error before and after the fit.
    """
    from omnivec.backends.clap import AudioTextTowers
    from omnivec.backends.clip import VisionTextTowers, image_backend_of

    info = image_backend_of(image_model)
    image = VisionTextTowers(image_model, settings, info)
    audio = AudioTextTowers(audio_model, settings)
    source = embed_texts(audio, captions, progress)
    target = embed_texts(image, captions, progress)
    bridge, report = fit_bridge(source, target)
    save_bridge(out, bridge, report, image_model, info.name, audio_model)
    logger.info("bridge fitted on %d captions: held-out error %.4f -> %.4f", len(captions), report.error_before, report.error_after)
    return report


def embed_texts(towers: Any, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
    rows = []
    for start in range(0, len(texts), towers.batch_size):
        chunk = texts[start : start + towers.batch_size]
        rows.append(towers.embed_texts(chunk, truncate=True))
        if progress:
            progress(len(chunk))
    return np.concatenate(rows)  # (N, D)
