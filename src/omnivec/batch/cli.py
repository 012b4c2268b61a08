"""``omnivec batch run``: a thin shell over :func:`omnivec.batch.run_job` with a progress bar."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from omnivec.errors import OmnivecError

batch_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Resumable batch embedding of JSONL files.")
err = Console(stderr=True)


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "-- items/s")


class ProgressBar:
    """The job's progress callback drawn as a rich bar on stderr (rate and ETA of this run's items)."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("[bold]embedding"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=err,
            disable=not err.is_terminal and os.environ.get("OMNIVEC_PROGRESS") != "1",
        )
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:  # rows done by an earlier run count as done, not toward the rate
            self.task = self.bar.add_task("embed", total=total, completed=done)
        else:
            self.bar.update(self.task, completed=done)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@batch_app.callback()
def batch() -> None:
    """Resumable batch embedding of JSONL files (local or on Ray)."""


@batch_app.command()
def run(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="JSONL: one request per line.")],
    output_path: Annotated[Path, typer.Argument(metavar="OUTPUT", help="Result: .jsonl, .parquet or .npy.")],
    engine: Annotated[str, typer.Option("--engine", help="local (this process) or ray.")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Join this Ray cluster (e.g. auto).")] = None,
    ray_actors: Annotated[int | None, typer.Option("--ray-actors", help="Model replicas on Ray (default: one per CPU).")] = None,
    model: Annotated[str, typer.Option("--model", help="Model name (see `omnivec models`).")] = "lite",
    dim: Annotated[int | None, typer.Option("--dim", help="Output width (Matryoshka).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Task type for lines without taskType.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Contents per model call.")] = 32,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Rows per checkpoint.")] = 256,
    auto_truncate: Annotated[bool, typer.Option("--auto-truncate", help="Cut text over the token limit.")] = False,
    allow: Annotated[list[Path] | None, typer.Option("--allow", help="Folder that file references may read (repeatable).")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an interrupted run and start over; an earlier output is replaced once the new run finishes.")] = False,
) -> None:
    """Embed every line of INPUT into OUTPUT; rerun the same command to resume after a crash."""
    from omnivec.config import Settings

    from .job import ENGINES, JobOptions, run_job, summary_path

    if engine not in ENGINES:
        raise _fail(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    options = JobOptions(model, dim, task, auto_truncate, batch_size, chunk_size, restart, ray_address, ray_actors)
    settings = Settings.from_env().with_roots(*(a.resolve() for a in allow or []))
    bar = ProgressBar()
    try:
        with bar.bar:
            summary = run_job(input_path, output_path, options, engine, bar, settings=settings)
    except OmnivecError as exc:
        raise _fail(exc.message) from None
    except OSError as exc:  # a full disk (ENOSPC), a file size limit (EFBIG), a read-only folder
        raise _fail(
            f"cannot write {output_path}: {exc.strerror or exc}; free space or fix the folder, then rerun the "
            f"same command: finished chunks are kept in {output_path}.partial/"
        ) from None
    except KeyboardInterrupt:
        err.print(f"interrupted; finished chunks are kept in {output_path}.partial/: rerun the same command to resume")
        raise typer.Exit(130) from None
    by_status = ", ".join(f"{status}: {n}" for status, n in summary.failures_by_status.items())
    err.print(
        f"{summary.total} inputs: {summary.succeeded} embedded, {summary.failed} failed"
        + (f" ({by_status})" if by_status else "")
        + (f"; {summary.resumed_rows} were done by an earlier run" if summary.resumed_rows else "")
        + f"\nwrote {', '.join(summary.files)} and {summary_path(output_path)}",
        highlight=False, soft_wrap=True,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    batch_app()
