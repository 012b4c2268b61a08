"""Models registered by local path in the config reach the Embedder, the CLI and the server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec import Embedder
from omnivec.api.settings import load_settings
from omnivec.backends import registered_backends
from omnivec.cli import app
from omnivec.config import ModelSpec, Settings, read_models_toml
from omnivec.errors import InvalidInput, ModelNotFound
from omnivec.models.base import available_models


def _toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "omnivec.toml"
    path.write_text(body)
    return path


def test_a_configured_model_embeds_through_the_embedder(clip_dir: Path, photo_png: Path) -> None:
    settings = replace(Settings(device="cpu"), models=(ModelSpec("my-clip", "clip", clip_dir),)).with_roots(photo_png.parent)
    embedder = Embedder(model="my-clip", settings=settings)
    result = embedder.embed(["a cat", photo_png], dim=8)
    assert result.vectors.shape == (2, 8)
    assert result.model == "my-clip" and embedder.info.name == "my-clip"
    assert result.metadata[1]["model"] == "my-clip"
    assert "my-clip" in available_models(settings)


def test_the_toml_file_registers_models_with_paths_relative_to_it(tmp_path: Path, clip_dir: Path) -> None:
    config = _toml(tmp_path, f'model = "lite"\n[models.my-clip]\nbackend = "clip"\npath = "{clip_dir}"\n[models.rel]\nbackend = "clap"\npath = "weights/clap"\n')
    specs = read_models_toml(config)
    assert specs == (ModelSpec("my-clip", "clip", clip_dir, str(config)), ModelSpec("rel", "clap", tmp_path / "weights/clap", str(config)))
    env = {"OMNIVEC_CONFIG": str(config), "OMNIVEC_DEVICE": "cpu"}
    assert Settings.from_env(env).models == specs
    served = load_settings(config, {"model": "my-clip"}, env={})  # `omnivec serve --config` reads the same tables
    assert served.library.models == specs and served.library.model == "my-clip"
    vectors = Embedder(served.library.model, served.library).embed(["a cat"]).vectors
    assert vectors.shape == (1, 16) and np.isclose(np.linalg.norm(vectors), 1.0)


def test_a_configured_folder_that_is_missing_is_named_in_the_error(tmp_path: Path) -> None:
    settings = Settings(models=(ModelSpec("gone", "clip", tmp_path / "nowhere", "omnivec.toml"),))
    with pytest.raises(ModelNotFound, match=r"points at .*nowhere, which is not a folder.*\[models.gone\] path in omnivec.toml"):
        Embedder(model="gone", settings=settings)
    with pytest.raises(ModelNotFound, match=r"no backend named 'clipp'; available: .*clip"):
        Embedder(model="typo", settings=Settings(models=(ModelSpec("typo", "clipp", tmp_path),)))


def test_malformed_model_tables_are_refused(tmp_path: Path) -> None:
    from omnivec.api.settings import ConfigError

    config = _toml(tmp_path, '[models.x]\nbackend = "clip"\n')
    with pytest.raises(InvalidInput, match=r"\[models.x\] needs exactly two keys"):
        read_models_toml(config)
    with pytest.raises(ConfigError, match=r"\[models.x\] needs exactly two keys"):  # omnivec serve --config
        load_settings(config, env={})
    with pytest.raises(InvalidInput, match="cannot read config file"):
        Settings.from_env({"OMNIVEC_CONFIG": str(tmp_path / "absent.toml")})


def test_omnivec_models_lists_backends_and_configured_models(tmp_path: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _toml(tmp_path, f'[models.my-clip]\nbackend = "clip"\npath = "{clip_dir}"\n[models.absent]\nbackend = "clap"\npath = "{tmp_path / "no"}"\n')
    monkeypatch.setenv("OMNIVEC_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    for info in registered_backends():
        assert info.name in result.stdout and info.reference_checkpoint.split(" ")[0] in result.stdout
    assert "openai/clip-vit-base-patch32" in result.stdout and "text_tokens=77" in result.stdout
    assert f"backend clip from {clip_dir}" in result.stdout
    assert "(missing)" in result.stdout  # the absent folder is flagged, not loaded
    assert "[models.<name>] backend = ..., path = ..." in result.stdout
    names = {b.name for b in registered_backends()}
    assert {"clip", "siglip2", "clap", "lite-whisper", "base"} <= names


def test_omnivec_serve_config_serves_a_configured_model(tmp_path: Path, clip_dir: Path) -> None:
    import openai

    from omnivec.api.app import create_app
    from omnivec.api.background import serve_in_thread

    config = _toml(tmp_path, f'model = "my-clip"\ndata_dir = "{tmp_path / "data"}"\n[models.my-clip]\nbackend = "clip"\npath = "{clip_dir}"\n')
    settings = load_settings(config, env={"OMNIVEC_DEVICE": "cpu"})
    expected = Embedder("my-clip", settings.library).embed(["a red bicycle", "a cat"]).vectors
    with serve_in_thread(create_app(settings)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="any", max_retries=0)
        response = client.embeddings.create(model="my-clip", input=["a red bicycle", "a cat"])
    served = np.array([row.embedding for row in response.data])
    np.testing.assert_allclose(served, expected, atol=1e-6)


def test_omnivec_embed_uses_a_configured_model(tmp_path: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("OMNIVEC_CONFIG", str(_toml(tmp_path, f'[models.my-clip]\nbackend = "clip"\npath = "{clip_dir}"\n')))
    monkeypatch.setenv("OMNIVEC_DEVICE", "cpu")
    result = CliRunner().invoke(app, ["embed", "a red bicycle", "--model", "my-clip", "--dim", "8"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert row["model"] == "my-clip" and row["dim"] == 8 and len(row["values"]) == 8
    missing = CliRunner().invoke(app, ["embed", "a cat", "--model", "nope"])
    assert missing.exit_code == 2 and "no model named 'nope'" in missing.output and "my-clip" in missing.output


def test_a_configured_name_may_not_shadow_a_built_in_model(tmp_path: Path) -> None:
    settings = Settings(models=(ModelSpec("lite", "clip", tmp_path, "omnivec.toml"),))
    with pytest.raises(InvalidInput, match=r"\[models.lite\] shadows the built-in model"):
        Embedder(model="lite", settings=settings)
