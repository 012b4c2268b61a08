"""The index CLI end to end, and crash safety: an ingest killed with SIGKILL, then run again.

Commands run in-process through typer's CliRunner on the index commands (laid out as in
``omnivec``), and as real ``omnivec index add`` subprocesses.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from omnivec import Embedder
from omnivec.evaluation import synth
from omnivec.index import Index
from omnivec.index.cli import standalone

TOPICS = ["volcanoes", "penguins", "bicycles", "orchids", "submarines", "violins", "glaciers", "bakeries"]


def _cli_prefix() -> list[str]:
    """The installed ``omnivec`` command (its ``index`` and ``search`` are this package's)."""
    return [str(Path(sys.executable).parent / "omnivec")]


@pytest.fixture(scope="module")
def lite() -> Embedder:
    return Embedder("lite")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image]) -> Path:
    folder = tmp_path_factory.mktemp("small")
    (folder / "volcano.txt").write_text("Volcanoes erupt when molten magma rises to the surface.")
    (folder / "bread.md").write_text("# Baking\nKnead the dough and let the bread rise overnight.")
    photos["chelsea"].save(folder / "cat.jpg", quality=90)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a real pdf\n%%EOF")
    return folder


def test_add_stats_search_remove_through_the_cli(small: Path, tmp_path: Path) -> None:
    app, runner, index = standalone(), CliRunner(), str(tmp_path / "idx")
    added = runner.invoke(app, ["index", "add", str(small), "--index", index, "--json"])
    assert added.exit_code == 1, added.output  # one file failed, the others are indexed
    report = json.loads(added.stdout)
    assert (report["added"], report["chunks"]) == (3, 3)
    assert [(Path(e["source"]).name, e["error"]) for e in report["errors"]] == [("broken.pdf", "DecodeError")]

    stats = json.loads(runner.invoke(app, ["index", "stats", "--index", index, "--json"]).stdout)
    assert (stats["files"], stats["chunks"], stats["backend"], stats["model"]) == (3, 3, "lancedb", "lite")

    found = runner.invoke(app, ["search", "magma and eruptions", "--index", index, "--json", "-k", "2"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)["hits"]
    assert Path(hits[0]["source"]).name == "volcano.txt" and len(hits) == 2
    assert hits[0]["model"] == "lite" and hits[0]["text"].startswith("Volcanoes")

    images = json.loads(
        runner.invoke(app, ["search", "a cat", "--index", index, "--json", "--modality", "image"]).stdout
    )
    assert [Path(h["source"]).name for h in images["hits"]] == ["cat.jpg"]
    by_file = json.loads(
        runner.invoke(app, ["search", str(small / "cat.jpg"), "--index", index, "--json", "-k", "1"]).stdout
    )
    assert Path(by_file["hits"][0]["source"]).name == "cat.jpg"
    only_md = json.loads(
        runner.invoke(app, ["search", "bread", "--index", index, "--json", "--path", "*.md"]).stdout
    )
    assert [Path(h["source"]).name for h in only_md["hits"]] == ["bread.md"]

    table = runner.invoke(app, ["search", "bread dough", "--index", index, "-k", "1"])
    assert table.exit_code == 0 and "results for 'bread dough'" in table.stdout
    assert "bread" in table.stdout and "Knead" in table.stdout  # cells wrap at 80 columns

    removed = runner.invoke(app, ["index", "remove", str(small / "cat.jpg"), "--index", index])
    assert removed.exit_code == 0 and "removed 1 files" in removed.output
    again = json.loads(runner.invoke(app, ["index", "add", str(small), "--index", index, "--json"]).stdout)
    assert (again["added"], again["skipped"]) == (1, 2)


def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    app, runner = standalone(), CliRunner()
    missing = runner.invoke(app, ["search", "anything", "--index", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no omnivec index" in missing.output
    stats = runner.invoke(app, ["index", "stats", "--index", str(tmp_path / "none")])
    assert stats.exit_code == 2
    bad = runner.invoke(
        app, ["index", "add", str(tmp_path), "--index", str(tmp_path / "i"), "--backend", "sqlite"]
    )
    assert bad.exit_code == 2 and "unknown index backend" in bad.output


def test_default_index_folder_comes_from_omnivec_index(small: Path, tmp_path: Path) -> None:
    env = {"OMNIVEC_INDEX": str(tmp_path / "from-env")}
    result = CliRunner().invoke(standalone(), ["index", "add", str(small / "volcano.txt")], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-env" / "omnivec-index.json").is_file()


# -- crash safety --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 small notes and a 3-page PDF: an ingest of many separate writes (batch size 4)."""
    folder = tmp_path_factory.mktemp("many")
    for i in range(48):
        topic = TOPICS[i % len(TOPICS)]
        (folder / f"note{i:02d}.txt").write_text(
            f"Note {i} about {topic}: fact number {i} on {topic} and more."
        )
    synth.make_pdf([f"Page {p} about {TOPICS[p]}." for p in range(3)], folder / "pages.pdf")
    return folder


def _snapshot(index: Index) -> dict[str, tuple[str, str, str]]:
    return {c.id: (c.locator, c.content_hash, c.text) for c in index.store.list_chunks()}


def _markers(index: Path) -> tuple[int, int]:
    """(complete, pending) file markers, read while another process may be writing."""
    if not (index / "omnivec-index.json").exists():
        return 0, 0
    with Index.open(index) as partial:
        states = [r.state for r in partial.store.list_files().values()]
    return states.count("complete"), states.count("pending")


def _marker_writes(index: Path) -> int:
    """A number that grows with every write to the ``files`` table, read from the files on disk
    alone (milvus-lite holds its folder exclusively, so it cannot be opened meanwhile)."""
    lance = index / "lancedb" / "files.lance" / "_versions"
    milvus = index / "milvus.db" / "collections" / "files"
    if lance.is_dir():
        return sum(1 for _ in lance.iterdir())
    return sum(p.stat().st_size for p in milvus.rglob("*") if p.is_file()) if milvus.is_dir() else 0


def _wait_for_writes(index: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the ingest has written a file marker (or ended); creating the table does not count."""
    before = _marker_writes(index)
    deadline = time.monotonic() + 120.0
    while process.poll() is None and time.monotonic() < deadline:
        now = _marker_writes(index)
        if now != before and before:
            return
        before = before or now
        time.sleep(0.05)


def _crash_then_finish(
    folder: Path, index: Path, backend: str, kills: int, seed: int
) -> list[tuple[int, int]]:
    """Start ``index add``, SIGKILL it at a random moment of its writing, ``kills`` times; then
    run it to the end. Returns the (complete, pending) marker counts found after each kill.
    """
    rng = random.Random(seed)
    command = [*_cli_prefix(), "index", "add", str(folder), "--index", str(index), "--batch-size", "4",
               "--backend", backend]  # fmt: skip
    after_kills = []
    for _ in range(kills):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_writes(index, process)
        time.sleep(rng.uniform(0.0, 1.5))
        if process.poll() is None:
            process.kill()  # SIGKILL: no cleanup handler runs
        process.wait()
        after_kills.append(_markers(index))
    final = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert final.returncode == 0, final.stderr
    return after_kills


@pytest.mark.parametrize("backend", ["lancedb", pytest.param("milvus", marks=pytest.mark.slow)])
def test_ingest_killed_at_random_moments_ends_complete(
    many: Path, tmp_path: Path, lite: Embedder, backend: str
) -> None:
    with Index.open(tmp_path / "clean", lite, backend=backend) as clean:
        clean.add([many])
        expected = _snapshot(clean)
        n_files = len(clean.store.list_files())
        queries = ["facts about glaciers", "violins", "page about penguins"]
        expected_hits = [[(h.chunk.id, round(h.score, 4)) for h in clean.search(q, k=5)] for q in queries]

    crashed = tmp_path / "crashed"
    after_kills = _crash_then_finish(many, crashed, backend, kills=3, seed=20240601)
    print(f"markers (complete, pending) after each kill: {after_kills}")
    # The kills are random; at least one must have caught the ingest midway for the test to mean anything.
    assert any(0 < complete < n_files or pending for complete, pending in after_kills), after_kills

    with Index.open(crashed, lite) as index:
        chunks = index.store.list_chunks()
        assert len({c.id for c in chunks}) == len(chunks)  # no duplicates
        assert _snapshot(index) == expected  # nothing lost, nothing extra
        markers = index.store.list_files()
        assert len(markers) == n_files and all(r.state == "complete" for r in markers.values())
        got_hits = [[(h.chunk.id, round(h.score, 4)) for h in index.search(q, k=5)] for q in queries]
        assert got_hits == expected_hits
