"""`omnivec batch run` as a real subprocess: kill -9 and resume, exactly once; Ray gives the local rows."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec import Embedder, Settings
from omnivec.batch import JobOptions, run_job

BATCH = [sys.executable, "-m", "omnivec.batch.cli", "run"]
N_TEXTS = 600
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "TOKENIZERS_PARALLELISM": "false"}


def batch_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BATCH, *args], capture_output=True, text=True, env=ENV, timeout=600)


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def npy_rows(out: Path) -> tuple[list[Any], np.ndarray]:
    ids = [json.loads(line) for line in out.with_suffix(".ids.jsonl").read_text().splitlines()]
    return [(i["key"], i["line"], "error" in i) for i in ids], np.load(out)


def manifest_lines(workdir: Path) -> int:
    try:
        return (workdir / "manifest.jsonl").read_text().count("\n")
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    # enough rows that the int8 text encoder is still busy when the kill lands
    lines: list[Any] = [
        {"id": f"t{i:03d}", "text": f"sentence {i} about {['cats', 'ships', 'bread'][i % 3]}"} for i in range(N_TEXTS)
    ]
    lines[17] = "{not json"
    lines[50] = {"id": "bad-b64", "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "!!"}}]}}
    lines.insert(30, "")
    return write_jsonl(folder / "texts.jsonl", lines)


def test_kill_9_at_random_moments_then_resume_gives_every_row_once(texts: Path, tmp_path: Path) -> None:
    args = ["--chunk-size", "4", "--batch-size", "4"]
    clean = batch_run(str(texts), str(tmp_path / "clean.npy"), *args)
    assert clean.returncode == 0, clean.stderr

    out, workdir = tmp_path / "out.npy", tmp_path / "out.npy.partial"
    rng = random.Random()
    kills: list[tuple[int, float]] = []  # (chunks before the kill, delay after the first new chunk)
    for _ in range(3):
        before = manifest_lines(workdir)
        proc = subprocess.Popen([*BATCH, str(texts), str(out), *args], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and manifest_lines(workdir) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        delay = rng.uniform(0.0, 0.15)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append((manifest_lines(workdir), delay))
        if proc.returncode == 0:
            break  # it finished before the kill landed
    assert workdir.is_dir() and not out.exists(), f"no kill landed mid-run: {kills}"

    other = batch_run(str(texts), str(out), *args, "--dim", "64")
    assert other.returncode == 2 and "dim: 384 -> 64" in other.stderr and "--restart" in other.stderr

    done = batch_run(str(texts), str(out), *args)
    assert done.returncode == 0, done.stderr
    assert "were done by an earlier run" in done.stderr and f"{N_TEXTS} inputs: {N_TEXTS - 2} embedded, 2 failed" in done.stderr
    assert not workdir.exists()
    clean_rows, clean_vectors = npy_rows(tmp_path / "clean.npy")
    rows, vectors = npy_rows(out)
    assert rows == clean_rows, kills  # every input exactly once, in input order
    assert [r[0] for r in rows if not r[2]] == [f"t{i:03d}" for i in range(N_TEXTS) if i not in (17, 50)]
    assert np.allclose(vectors, clean_vectors), kills
    summary = json.loads((tmp_path / "out.npy.summary.json").read_text())
    assert (summary["total"], summary["failed"], summary["resumed_rows"] > 0) == (N_TEXTS, 2, True)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, photo_png: Path) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    lines: list[Any] = [{"id": f"t{i}", "text": f"item {i}"} for i in range(14)]
    lines[3] = {"id": "photo", "path": str(photo_png)}
    lines[9] = "[1, 2]"
    return write_jsonl(folder / "mixed.jsonl", lines)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_engine_gives_the_local_rows(local_ray: None, mixed: Path, photo_png: Path, tmp_path: Path) -> None:
    settings = Settings.from_env().with_roots(photo_png.parent)
    options = JobOptions(chunk_size=4, batch_size=4)
    local = run_job(mixed, tmp_path / "local.npy", options, embedder=Embedder("lite", settings))
    on_ray = run_job(mixed, tmp_path / "ray.npy", options, engine="ray", settings=settings)
    assert (on_ray.engine, on_ray.total, on_ray.failed) == ("ray", local.total, 1)
    local_rows, local_vectors = npy_rows(tmp_path / "local.npy")
    ray_rows, ray_vectors = npy_rows(tmp_path / "ray.npy")
    assert ray_rows == local_rows
    # Ray actors run one inference thread, this process all cores: float32 sums differ in the last bits.
    assert np.allclose(ray_vectors, local_vectors, atol=1e-5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_cli_joins_an_existing_ray_cluster(mixed: Path, photo_png: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    port = free_port()
    # Its own temp dir, so no `ray.init()` elsewhere finds it; short, as Unix socket paths must be.
    ray_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    cluster_env = {**ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}  # as on a real cluster
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={ray_dir}"],
        env=cluster_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        args = ["--chunk-size", "4", "--allow", str(photo_png.parent)]
        on_ray = subprocess.run(
            [*BATCH, str(mixed), str(tmp_path / "ray.jsonl"), "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", *args],
            capture_output=True, text=True, env=cluster_env, timeout=300,
        )
        assert on_ray.returncode == 0, on_ray.stderr
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # the head and every process it started (its session)
        head.wait(timeout=60)
        shutil.rmtree(ray_dir, ignore_errors=True)
    local = batch_run(str(mixed), str(tmp_path / "local.jsonl"), *args)
    assert local.returncode == 0, local.stderr
    ray_rows = [json.loads(x) for x in (tmp_path / "ray.jsonl").read_text().splitlines()]
    local_rows = [json.loads(x) for x in (tmp_path / "local.jsonl").read_text().splitlines()]
    assert [(r["key"], r["line"]) for r in ray_rows] == [(r["key"], r["line"]) for r in local_rows]
    pairs = [(np.array(a["values"]), np.array(b["values"])) for a, b in zip(ray_rows, local_rows, strict=True) if "values" in a]
    assert len(pairs) == 13 and all(np.allclose(a, b, atol=1e-5) for a, b in pairs)
