"""`serve` as the lead registers it: a typer command with the documented options."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from omnivec.api.serve_cli import build_settings, serve


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(serve)
    app.command("noop")(lambda: None)  # two commands: `serve` is then a subcommand, as in cli.py
    return app


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(_app(), ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--config", "--api-key", "--allow", "--model", "--data-dir", "--demo"):
        assert option in result.output


def test_public_host_without_keys_exits_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to bind 0.0.0.0 without an API key" in result.output


def test_unknown_model_exits_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["serve", "--model", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no model named 'nope'" in result.output


def test_flags_win_and_allow_adds_roots(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'port = 1\nallowed_roots = ["{tmp_path}"]\n')
    settings = build_settings(config, "0.0.0.0", 2, ["k1", "k2"], [tmp_path / "more"], None, None)
    assert (settings.host, settings.port, settings.api_keys) == ("0.0.0.0", 2, ("k1", "k2"))
    assert settings.allowed_roots == (tmp_path, (tmp_path / "more").resolve())
