"""The `omnivec` command, run as a real subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

OMNIVEC = str(Path(sys.executable).with_name("omnivec"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([OMNIVEC, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_embed_texts_and_files_as_jsonl(photo_jpeg: Path, speech_wav: Path) -> None:
    done = run("embed", "a tabby cat", str(photo_jpeg), str(speech_wav), "--dim", "128", "--task", "RETRIEVAL_DOCUMENT")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["input"] for r in rows] == ["a tabby cat", str(photo_jpeg), str(speech_wav)]
    vectors = np.array([r["values"] for r in rows])
    assert vectors.shape == (3, 128) and {r["model"] for r in rows} == {"lite"}
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])  # the cat text is nearer the cat photo
    assert "quick" in rows[2]["metadata"]["parts"][0]["transcript"].lower()


def test_embed_to_npy_with_id_map(tmp_path: Path, text_pdf: Path) -> None:
    out = tmp_path / "v.npy"
    done = run("embed", "one", "two", str(text_pdf), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert np.load(out).shape == (3, 384)
    ids = [json.loads(line) for line in out.with_suffix(".ids.jsonl").read_text().splitlines()]
    assert [i["row"] for i in ids] == [0, 1, 2] and ids[2]["metadata"]["parts"][0]["pages"] == 3


def test_combine_gives_one_vector(photo_jpeg: Path) -> None:
    done = run("embed", "a cat", str(photo_jpeg), "--combine")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed", "x", "--dim", "999"], "output dimensionality 999 is out of range"),
        (["embed", "x", "--task", "NOPE"], "unknown task type 'NOPE'"),
        (["embed", "x", "--model", "nope"], "no model named 'nope'; available: lite"),
    ],
)
def test_errors_are_one_line_and_nonzero(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_corrupt_file_is_a_clear_error(tmp_path: Path, photo_png: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(photo_png.read_bytes()[:300])
    done = run("embed", str(broken))
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_models_lists_lite_and_backends() -> None:
    done = run("models")
    assert done.returncode == 0, done.stderr
    for word in ("lite", "384", "minilm", "efficientnet-lite0", "rapidocr", "whisper"):
        assert word in done.stdout


def test_eval_self_check(tmp_path: Path) -> None:
    done = run("eval", "--limit", "2", "--cache", str(tmp_path), "--dim", "128", "--dim", "384")
    assert done.returncode == 0, done.stderr
    assert "| text->speech.wav | text | audio | 384 | yes |" in done.stdout
    assert "Targets (recall@1, 384-d, rotated)" in done.stdout
