"""``omnivec index add|remove|stats`` and ``omnivec search``: thin shells over :class:`Index`.

``omnivec.cli`` registers them with ``app.add_typer(index_app, name="index")`` and
``app.command()(search)``; ``python -m omnivec.index.cli`` runs the same commands standalone.
Exit codes: 0 success, 1 some files failed (the rest were indexed), 2 error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from omnivec.errors import OmnivecError

index_app = typer.Typer(no_args_is_help=True, help="Build and maintain a local multimodal index.")
err = Console(stderr=True)
out = Console()

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder (default: $OMNIVEC_INDEX, else ./.omnivec-index)."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Model name (default: the index's model, else $OMNIVEC_MODEL).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _folder(index: Path | None) -> Path:
    from omnivec.index.index import default_folder

    return index or default_folder()


def _embedder(folder: Path, model: str | None) -> Any:
    """The index's own model unless one is named (a different one is refused on open)."""
    from omnivec.embedder import Embedder
    from omnivec.index.store import read_identity

    identity = read_identity(folder)
    return Embedder(model or (identity.model if identity else None))


def _show_progress() -> bool:
    return err.is_terminal or os.environ.get("OMNIVEC_PROGRESS") == "1"


class _Bars:
    """Two rich bars, files and chunks, fed by IngestProgress events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.files: TaskID = progress.add_task("files", total=None, name="")
        self.chunks: TaskID = progress.add_task("chunks", total=None, name="")

    def __call__(self, state: Any) -> None:
        name = Path(state.current).name if state.current else ""
        self.progress.update(
            self.files, completed=state.files_done, total=state.files_total or None, name=name
        )
        self.progress.update(self.chunks, completed=state.chunks_done, total=state.chunks_total or None)


@index_app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to index (folders recursively).")],
    index: IndexOption = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="lancedb (default) or milvus; new indexes only.")
    ] = None,
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Chunks per model call.")] = 16,
    as_json: JsonOption = False,
) -> None:
    """Index files: new and changed ones are embedded, unchanged skipped, vanished ones removed."""
    from omnivec.index.index import Index

    folder = _folder(index)
    columns = (TextColumn("[bold]{task.description:>6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[name]}"))  # fmt: skip
    try:
        with Index.open(folder, _embedder(folder, model), backend=backend) as idx, \
                Progress(*columns, console=err, disable=not _show_progress()) as progress:  # fmt: skip
            report = idx.add(paths, progress=_Bars(progress), batch_size=batch_size)
    except OmnivecError as exc:
        raise _fail(exc.message) from None
    except (OSError, RuntimeError) as exc:
        # A full disk or a file size limit: OSError from Python, RuntimeError("lance error: ... (os error 28)")
        # from LanceDB. Anything else is a bug and keeps its traceback.
        if not isinstance(exc, OSError) and "os error" not in str(exc):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).split(", /")[0]
        raise _fail(
            f"cannot write the index in {folder}: {reason}; free space, then rerun: files indexed before "
            "stay searchable and the rest is picked up"
        ) from None
    _print_report(report, folder, as_json)
    if report.errors:
        raise typer.Exit(1)


def _print_report(report: Any, folder: Path, as_json: bool) -> None:
    if as_json:
        body = {name: getattr(report, name) for name in ("added", "updated", "skipped", "removed", "chunks")}
        body["errors"] = [{"source": e.source, "error": e.error, "message": e.message} for e in report.errors]
        out.print_json(json.dumps({"index": str(folder), **body}))
        return
    err.print(
        f"[bold]{folder}[/]: {report.added} added, {report.updated} updated, {report.skipped} unchanged, "
        f"{report.removed} removed; {report.chunks} chunks written; {len(report.errors)} failed",
        highlight=False,
    )
    if report.errors:
        table = Table("file", "error", "reason", title="files not indexed", title_justify="left")
        for e in report.errors:
            table.add_row(Text(e.source), e.error, Text(e.message))
        err.print(table)


@index_app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files, or folders (everything indexed under them).")],
    index: IndexOption = None,
) -> None:
    """Remove files from the index (the files themselves are not touched)."""
    from omnivec.index.index import Index

    folder = _folder(index)
    try:
        with Index.open(folder, create=False) as idx:
            count = idx.delete(paths)
    except OmnivecError as exc:
        raise _fail(exc.message) from None
    err.print(f"removed {count} files from {folder}")


@index_app.command()
def stats(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """What the index holds: model, backend, files and chunks per modality, ANN index."""
    from dataclasses import asdict

    from omnivec.index.index import Index

    try:
        with Index.open(_folder(index), create=False) as idx:
            info = idx.stats()
    except OmnivecError as exc:
        raise _fail(exc.message) from None
    if as_json:
        out.print_json(json.dumps(asdict(info)))
        return
    table = Table(show_header=False, title=f"index {info.folder}", title_justify="left")
    rows = [("model", f"{info.model} {info.version} ({info.dim}-d, prefix {info.prefix_dim})"),
            ("backend", info.backend), ("files", str(info.files)), ("chunks", str(info.chunks)),
            ("ANN index", info.ann_index or "none (exact scan)")]  # fmt: skip
    rows += [
        (f"  {m}", f"{n} files, {info.chunks_by_modality.get(m, 0)} chunks")
        for m, n in info.files_by_modality.items()
    ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def search(
    query: Annotated[str, typer.Argument(help="Text, or a path to a file (image, audio, video, PDF, text).")],
    index: IndexOption = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="Number of results.")] = 10,
    modality: Annotated[
        str | None,
        typer.Option("--modality", help="Only these, comma-separated: text,image,audio,video,pdf."),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Only sources matching this glob, e.g. '*.pdf' or 'talks/*'.")
    ] = None,
    model: ModelOption = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Scan full vectors instead of the two-stage search.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Search an index by text or by example file."""
    from omnivec.index.index import Index

    folder = _folder(index)
    candidate = Path(query).expanduser()
    target: str | Path = candidate if candidate.is_file() else query
    modalities = [m.strip() for m in modality.split(",") if m.strip()] if modality else []
    try:
        with Index.open(folder, _embedder(folder, model), create=False) as idx:
            hits = idx.search(target, k=k, modalities=modalities, path_glob=path, exact_search=exact)
    except OmnivecError as exc:
        raise _fail(exc.message) from None
    if as_json:
        out.print_json(json.dumps({"query": query, "hits": [h.to_dict() for h in hits]}))
        return
    _print_hits(hits, query)


def _print_hits(hits: list[Any], query: str) -> None:
    if not hits:
        err.print(f"no results for {query!r}")
        return
    table = Table("score", "source", "where", "snippet", title=f"results for {query!r}", title_justify="left")
    cwd = Path.cwd()
    for hit in hits:
        source = Path(hit.source)
        shown = str(source.relative_to(cwd)) if source.is_relative_to(cwd) else str(source)
        label = Text(shown) + Text(f" ({hit.modality})", style="dim")
        table.add_row(f"{hit.score:.3f}", label, hit.where(), Text(hit.snippet()))
    out.print(table)


def standalone() -> typer.Typer:
    """The index commands laid out as in ``omnivec``: ``index add|remove|stats`` and ``search``."""
    app = typer.Typer(add_completion=False, no_args_is_help=True)
    app.add_typer(index_app, name="index")
    app.command()(search)
    return app


def main() -> None:
    """``python -m omnivec.index.cli``: the index commands without the rest of the CLI."""
    standalone()()


if __name__ == "__main__":
    main()
