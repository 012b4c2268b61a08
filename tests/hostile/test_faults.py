"""Faults: kill -9 of ``omnivec serve``, ``omnivec index add`` and ``omnivec batch run`` at random
moments, then a restart; and a full disk (``RLIMIT_FSIZE``: writes fail with EFBIG) during a write.

After each kill the state on disk must open; after the restart everything is complete, equal to
an uninterrupted run, with nothing lost and nothing doubled. The fast run kills a few times,
``make reliability`` many times.
"""

from __future__ import annotations

import json
import random
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.hostile.conftest import AUTH, EMBED, ENV, OMNIVEC, Recorder, ServerProcess, scale

from omnivec import Embedder
from omnivec.index import Index

TOPICS = ["volcanoes", "penguins", "bicycles", "orchids", "submarines", "violins", "glaciers", "bakeries"]


def _wait(condition: Callable[[], bool], process: subprocess.Popen[bytes] | None, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        if condition():
            return True
        time.sleep(0.02)
    return False


# -- omnivec serve ------------------------------------------------------------------------------
def _progress(http: httpx.Client, name: str) -> tuple[int, int]:
    stats = http.get(f"/v1beta/{name}").json()["metadata"]["batchStats"]
    total = int(stats["requestCount"])
    return total - int(stats.get("pendingRequestCount", 0)), total


def test_serve_killed_mid_job_restarts_healthy_with_jobs_intact(
    tmp_path: Path, root: Path, lite: Embedder, record: Recorder
) -> None:
    words = [f"job line {i}: {TOPICS[i % 8]} and {'more ' * (i % 5)}words" for i in range(600)]
    entries = [{"request": {"content": {"parts": [{"text": w}]}}, "metadata": {"row": i}} for i, w in enumerate(words)]
    server = ServerProcess(tmp_path / "data", [root])
    rng = random.Random(20261204)
    kills: list[int] = []  # requests of the job done when each kill landed
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as http:
            body = {"batch": {"displayName": "killed", "inputConfig": {"requests": {"requests": entries}}}}
            created = http.post("/v1beta/models/lite:asyncBatchEmbedContent", json=body)
            assert created.status_code == 200, created.text
            name = created.json()["name"]
        for kill in range(scale(1, 6)):
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as http:
                before = _progress(http, name)[0]
                if before == len(words):
                    break
                # Let the job progress, then send live requests so that some are in flight at the kill.
                _wait(lambda h=http, b=before: _progress(h, name)[0] > b, None, timeout=60)  # type: ignore[misc]
                stop = threading.Event()

                def traffic(url: str = server.url, stop: threading.Event = stop) -> None:
                    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
                        while not stop.is_set():
                            try:
                                client.post(EMBED, json={"content": {"parts": [{"text": "in flight"}]}})
                            except httpx.TransportError:
                                return

                sender = threading.Thread(target=traffic, daemon=True)
                sender.start()
                time.sleep(rng.uniform(0.0, 0.3))
                at_kill = _progress(http, name)[0]
                server.kill()
                stop.set()
                sender.join()
            server.start()
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as http:
                assert http.get("/healthz").status_code == 200
                kills.append(at_kill)
                record("kill", target="omnivec serve", kill=kill, done_at_kill=at_kill,
                       done_after_restart=_progress(http, name)[0], total=len(words))  # fmt: skip
        assert any(0 < k < len(words) for k in kills), kills  # at least one kill landed mid-job
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as http:
            assert _wait(lambda: http.get(f"/v1beta/{name}").json()["done"], None, timeout=300)
            result = http.get(f"/v1beta/{name}").json()
            responses = result["response"]["inlinedResponses"]["inlinedResponses"]
            assert [r["metadata"]["row"] for r in responses] == list(range(len(words)))  # once each, in order
            got = np.array([r["response"]["embedding"]["values"] for r in responses], np.float32)
            np.testing.assert_allclose(got, lite.embed(words, batch_size=64).vectors, atol=1e-5)
            good = http.post(EMBED, json={"content": {"parts": [{"text": "after the kills"}]}})
            np.testing.assert_allclose(good.json()["embedding"]["values"], lite.embed("after the kills").vectors[0], atol=1e-5)
        record("kill-outcome", target="omnivec serve", kills=server.starts - 1, rows=len(words), lost=0, doubled=0)
    finally:
        server.stop()


# -- omnivec index add --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("notes")
    for i in range(40):
        topic = TOPICS[i % len(TOPICS)]
        (folder / f"note{i:02d}.txt").write_text(f"Note {i} about {topic}: fact number {i} on {topic}.")
    return folder


def _snapshot(index: Index) -> dict[str, tuple[str, str, str]]:
    return {c.id: (c.locator, c.content_hash, c.text) for c in index.store.list_chunks()}


KILLS_PER_ROUND = 3  # kills on one index or output; then it is finished and compared, and a new round starts


@pytest.mark.slow  # CI kills index add in tests/integration/test_index_cli.py
def test_index_add_killed_at_random_moments_ends_complete(notes: Path, tmp_path: Path, lite: Embedder, record: Recorder) -> None:
    with Index.open(tmp_path / "clean", lite) as clean:
        clean.add([notes])
        expected = _snapshot(clean)
    rng, kills, rounds = random.Random(7), 0, 0
    while kills < scale(2, 15):
        index = tmp_path / f"crashed{rounds}"
        command = [OMNIVEC, "index", "add", str(notes), "--index", str(index), "--batch-size", "4"]
        for _ in range(KILLS_PER_ROUND):
            process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            versions = index / "lancedb" / "files.lance" / "_versions"
            before = sum(1 for _ in versions.iterdir()) if versions.is_dir() else 0
            _wait(lambda v=versions, b=before: v.is_dir() and sum(1 for _ in v.iterdir()) > b + 1, process)  # type: ignore[misc]
            time.sleep(rng.uniform(0.0, 0.8))
            process.kill()
            process.wait()
            with Index.open(index, lite) as partial:  # readable after every kill
                chunks = partial.store.list_chunks()
                assert len({c.id for c in chunks}) == len(chunks)
                states = [r.state for r in partial.store.list_files().values()]
            if process.returncode == 0:
                break  # it finished before the kill landed: this round is done
            kills += 1
            record("kill", target="omnivec index add", kill=kills, round=rounds, complete=states.count("complete"),
                   pending=states.count("pending"))  # fmt: skip
        final = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr
        with Index.open(index, lite) as done:
            assert _snapshot(done) == expected  # nothing lost, nothing doubled
            assert all(r.state == "complete" for r in done.store.list_files().values())
        rounds += 1
    record("kill-outcome", target="omnivec index add", kills=kills, rounds=rounds, rows=len(expected), lost=0, doubled=0)


# -- omnivec batch run --------------------------------------------------------------------------
def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.read_text().splitlines()]


@pytest.mark.slow  # CI kills batch run in tests/integration/test_batch_cli.py
def test_batch_run_killed_at_random_moments_resumes_exactly_once(tmp_path: Path, record: Recorder) -> None:
    lines = [{"id": f"r{i:03d}", "text": f"row {i} about {TOPICS[i % 8]}"} for i in range(120)]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    args = ["--chunk-size", "4", "--batch-size", "4"]
    clean = subprocess.run([OMNIVEC, "batch", "run", str(source), str(tmp_path / "clean.jsonl"), *args],
                           env=ENV, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    expected = _rows(tmp_path / "clean.jsonl")
    rng, kills, rounds = random.Random(11), 0, 0
    while kills < scale(2, 15):
        out = tmp_path / f"out{rounds}.jsonl"
        manifest = out.with_name(out.name + ".partial") / "manifest.jsonl"

        def chunks_done(m: Path = manifest) -> int:
            return m.read_text().count("\n") if m.exists() else 0

        for _ in range(KILLS_PER_ROUND):
            before = chunks_done()
            process = subprocess.Popen([OMNIVEC, "batch", "run", str(source), str(out), *args], env=ENV,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            _wait(lambda b=before: chunks_done() > b, process)  # type: ignore[misc]
            time.sleep(rng.uniform(0.0, 0.5))
            process.kill()
            process.wait()
            if process.returncode == 0:
                break  # it finished before the kill landed
            kills += 1
            record("kill", target="omnivec batch run", kill=kills, round=rounds, chunks_before=before,
                   chunks_after=chunks_done())  # fmt: skip
        done = subprocess.run([OMNIVEC, "batch", "run", str(source), str(out), *args], env=ENV,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        rows = _rows(out)
        assert [r["key"] for r in rows] == [x["id"] for x in lines]  # every row once, in order
        np.testing.assert_allclose([r["values"] for r in rows], [r["values"] for r in expected], atol=1e-5)
        rounds += 1
    record("kill-outcome", target="omnivec batch run", kills=kills, rounds=rounds, rows=len(lines), lost=0, doubled=0)


# -- full disk ----------------------------------------------------------------------------------
def _small_disk(max_bytes: int) -> Callable[[], None]:
    """For the child: files may not grow past ``max_bytes`` (writes fail with EFBIG, like ENOSPC)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


def _one_clear_line(stderr: str) -> None:
    lines = [x for x in stderr.splitlines() if x.strip() and "Warning" not in x and "warn(" not in x]
    assert "Traceback" not in stderr and lines, stderr
    assert any("File too large" in x or "disk" in x.lower() or "space" in x.lower() for x in lines), stderr


def test_full_disk_during_batch_run_is_a_clear_error_and_the_rerun_completes(tmp_path: Path, record: Recorder) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": f"row {i}"}) + "\n" for i in range(300)))
    clean = subprocess.run([OMNIVEC, "batch", "run", str(source), str(tmp_path / "clean.jsonl")], env=ENV,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    out, args = tmp_path / "out.jsonl", ["--chunk-size", "16"]
    full = subprocess.run([OMNIVEC, "batch", "run", str(source), str(out), *args], env=ENV,
                          capture_output=True, text=True, timeout=600, preexec_fn=_small_disk(256 * 1024))  # fmt: skip
    record("disk-full", target="omnivec batch run", exit=full.returncode, stderr=full.stderr.strip()[-400:])
    assert full.returncode != 0 and not out.exists()
    _one_clear_line(full.stderr)
    kept = (tmp_path / "out.jsonl.partial" / "manifest.jsonl").read_text().count("\n")
    assert kept > 0  # the chunks finished before the disk filled are kept...
    rerun = subprocess.run([OMNIVEC, "batch", "run", str(source), str(out), *args], env=ENV,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr  # ...and the rerun reuses them and completes
    assert "were done by an earlier run" in rerun.stderr
    rows, expected = _rows(out), _rows(tmp_path / "clean.jsonl")
    assert [r["key"] for r in rows] == [r["key"] for r in expected]
    np.testing.assert_allclose([r["values"] for r in rows], [r["values"] for r in expected], atol=1e-5)


def test_full_disk_during_index_add_is_a_clear_error_and_keeps_the_index(notes: Path, tmp_path: Path, lite: Embedder, record: Recorder) -> None:
    index = tmp_path / "index"
    first = subprocess.run([OMNIVEC, "index", "add", str(notes / "note00.txt"), "--index", str(index)], env=ENV,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert first.returncode == 0, first.stderr
    with Index.open(index, lite) as before:
        expected = _snapshot(before)
    full = subprocess.run([OMNIVEC, "index", "add", str(notes), "--index", str(index)], env=ENV,
                          capture_output=True, text=True, timeout=600, preexec_fn=_small_disk(4 * 1024))  # fmt: skip
    record("disk-full", target="omnivec index add", exit=full.returncode, stderr=full.stderr.strip()[-300:])
    assert full.returncode != 0
    _one_clear_line(full.stderr)
    with Index.open(index, lite) as after:  # the earlier state is readable and whole
        snapshot = _snapshot(after)
        assert all(snapshot.get(k) == v for k, v in expected.items())
        assert after.search("volcanoes", k=1)
