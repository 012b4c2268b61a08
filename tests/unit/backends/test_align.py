"""The text-pivot bridge: fitted on captions, it must carry held-out captions across spaces.

Random-weight CLAP and CLIP text towers still define a well-posed regression between two
spaces; the fit has to beat the unfitted map on captions it never saw.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.backends.align import embed_texts, fit_bridge, load_base_config, read_captions
from omnivec.cli import app
from omnivec.errors import InvalidInput
from omnivec.models.tables import rotation_corpus


def test_the_fitted_bridge_reduces_held_out_error(base_dir: Path, base_model: Any) -> None:
    report = json.loads((base_dir / "base.json").read_text())["report"]
    assert report["held_out"] == 40 and report["train"] == 160
    assert report["error_after"] < 0.8 * report["error_before"]
    # Captions outside the fit as well: the saved bridge moves CLAP text close to CLIP text.
    fresh = rotation_corpus()[1000:1100]
    towers = base_model.towers
    mapped = towers.bridge.apply(embed_texts(towers.audio, fresh))
    target = embed_texts(towers.image, fresh)
    cosine = np.sum(mapped * target, axis=1).mean()
    unfitted = np.sum(embed_texts(towers.audio, fresh) * target, axis=1).mean()
    assert cosine > unfitted + 0.2


def test_fit_bridge_on_a_known_linear_map_recovers_it() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(400, 12))
    source /= np.linalg.norm(source, axis=1, keepdims=True)
    target = source @ rng.normal(size=(12, 20))
    target /= np.linalg.norm(target, axis=1, keepdims=True)  # nonlinear only by the renormalization
    _, report = fit_bridge(source, target)
    assert report.error_before == pytest.approx(1.0)  # different widths: the unfitted map is zero
    assert report.error_after < 0.05
    assert report.top1_after > 0.9


def test_too_few_captions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("a cat\na cat\n\na dog\n")
    with pytest.raises(InvalidInput, match="2 distinct captions"):
        read_captions(tmp_path / "c.txt")


def test_omnivec_align_saves_a_loadable_bridge_and_prints_the_error(
    tmp_path: Path, clip_dir: Path, clap_dir: Path
) -> None:
    captions = tmp_path / "captions.txt"
    captions.write_text("\n".join(rotation_corpus()[2000:2080]) + "\n")
    out = tmp_path / "base"
    result = CliRunner().invoke(
        app, ["align", "--audio-model", str(clap_dir), "--image-model", str(clip_dir), "--captions", str(captions), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "held-out 16 captions" in result.stdout
    before, after = map(float, re.search(r"error .*: before ([\d.]+), after ([\d.]+)", result.stdout).groups())  # type: ignore[union-attr]
    assert after < before
    config = load_base_config(out)
    assert config.bridge.weight.shape == (16, 16)
    assert config.image_model.resolve() == clip_dir.resolve()
    assert config.image_backend == "clip"


def test_omnivec_align_names_a_missing_model_folder(tmp_path: Path, clip_dir: Path) -> None:
    captions = tmp_path / "captions.txt"
    captions.write_text("\n".join(rotation_corpus()[:20]))
    result = CliRunner().invoke(
        app, ["align", "--audio-model", str(tmp_path / "nope"), "--image-model", str(clip_dir), "--captions", str(captions), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "has no config.json" in result.output
