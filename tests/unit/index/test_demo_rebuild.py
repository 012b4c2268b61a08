"""The generated demo index is rebuilt, not refused, when the model version changes (an upgrade)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec import Embedder, Settings
from omnivec.errors import ModelMismatch
from omnivec.index import Index
from omnivec.index.demo import index_generated


def test_generated_index_of_another_model_version_is_rebuilt(tmp_path: Path) -> None:
    media, index_dir = tmp_path / "media", tmp_path / "index"
    media.mkdir()
    (media / "note.md").write_text("The train to Boston leaves from platform nine at noon.\n")
    old = Embedder("lite", settings=Settings(runtime="torch"))
    new = Embedder("lite", settings=Settings(runtime="onnx-int8"))
    assert old.info.version != new.info.version
    index_generated(old, media, index_dir)

    with pytest.raises(ModelMismatch):  # a user's index refuses the other version...
        Index.open(index_dir, new)
    report = index_generated(new, media, index_dir)  # ...the generated one is rebuilt
    assert report.added == 1
    with Index.open(index_dir, new) as index:
        stats = index.stats()
        assert (stats.version, stats.files) == (new.info.version, 1)
        hits = index.search("when does the train leave", k=1)
        assert hits[0].source.endswith("note.md")
