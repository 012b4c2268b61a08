"""The ``omnivec`` command: a thin shell over the library (one behaviour to test)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from omnivec.errors import OmnivecError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multimodal embeddings, offline.")
err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def progress_bar(total: int, label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        disable=total <= 1 or (not err.is_terminal and not _force_progress()),
    )


def _force_progress() -> bool:
    import os

    return os.environ.get("OMNIVEC_PROGRESS") == "1"


def _settings(allow: list[Path] | None, paths: list[Path]) -> Any:
    from omnivec.config import Settings

    # Files named on the command line are the user's own choice: their folders are allowed.
    roots = [p.resolve().parent for p in paths] + [a.resolve() for a in allow or []]
    return Settings.from_env().with_roots(*roots)


def _parse_inputs(items: list[str]) -> tuple[list[Any], list[Path]]:
    from omnivec.content import Part

    inputs: list[Any] = []
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.exists() and not path.is_dir():
            inputs.append(Part.from_path(path))
            paths.append(path)
        elif path.is_dir():
            raise fail(f"{item} is a folder; pass files, or use `omnivec index add {item}`")
        else:
            inputs.append(item)
    return inputs, paths


@app.command()
def embed(
    inputs: Annotated[list[str], typer.Argument(help="Texts and/or file paths; each gives one vector.")],
    dim: Annotated[int | None, typer.Option("--dim", help="Matryoshka output width.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Gemini task type, e.g. RETRIEVAL_QUERY.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title (RETRIEVAL_DOCUMENT).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name (see `omnivec models`).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .jsonl or .npy (default: JSONL on stdout).")] = None,
    combine: Annotated[bool, typer.Option("--combine", help="All inputs form ONE content (one fused vector).")] = False,
    auto_truncate: Annotated[bool, typer.Option("--auto-truncate", help="Cut text over the token limit.")] = False,
    allow: Annotated[list[Path] | None, typer.Option("--allow", help="Extra folder files may be read from.")] = None,
) -> None:
    """Embed texts and files (images, audio, video, PDF)."""
    from omnivec.embedder import Embedder

    items, paths = _parse_inputs(inputs)
    batch = [items] if combine else items
    try:
        embedder = Embedder(model, settings=_settings(allow, paths))
        with progress_bar(len(batch), "embedding") as bar:
            task_id = bar.add_task("embed", total=len(batch), rate="")
            result = embedder.embed(
                batch, task=task, title=title, dim=dim, auto_truncate=auto_truncate, batch_size=8,
                progress=lambda n: bar.advance(task_id, n),
            )
    except OmnivecError as exc:
        raise fail(exc.message) from None
    labels = [" + ".join(inputs)] if combine else inputs
    _write(result, labels, output)


def _write(result: Any, labels: list[str], output: Path | None) -> None:
    import numpy as np

    if output is not None and output.suffix == ".npy":
        np.save(output, result.vectors)
        ids = output.with_suffix(".ids.jsonl")
        with ids.open("w") as f:
            for i, (label, meta) in enumerate(zip(labels, result.metadata, strict=True)):
                f.write(json.dumps({"row": i, "input": label, "metadata": meta}) + "\n")
        err.print(f"wrote {result.vectors.shape} to {output} and the id map to {ids}")
        return
    stream = output.open("w") if output else sys.stdout
    try:
        for label, vector, meta in zip(labels, result.vectors, result.metadata, strict=True):
            row = {"input": label, "model": result.model, "version": result.version, "dim": result.dim,
                   "values": [round(float(x), 7) for x in vector], "metadata": meta}
            stream.write(json.dumps(row) + "\n")
    finally:
        if output:
            stream.close()


@app.command()
def models() -> None:
    """List the models, the backends a model can be configured with, and the encoders."""
    from omnivec.backends import registered_backends
    from omnivec.config import Settings
    from omnivec.models.base import available_models, model_factory

    settings = Settings.from_env()
    configured = {spec.name: spec for spec in settings.models}
    table = Table(title="models")
    for col in ("name", "dim", "matryoshka", "modalities", "version", "description"):
        table.add_column(col)
    for name in available_models(settings):
        if name in configured:  # loading weights just to list them would be slow: show the binding
            spec = configured[name]
            state = "" if spec.path.is_dir() else " [red](missing)[/]"
            table.add_row(name, "", "", "", "", f"backend {spec.backend} from {spec.path}{state}")
            continue
        info = model_factory(name)().info
        table.add_row(name, str(info.dim), str(info.matryoshka), ", ".join(info.modalities), info.version, info.description)
    out.print(table)

    backends = Table(title="backends (use one: \\[models.<name>] backend = ..., path = ... in the OMNIVEC_CONFIG file)")
    for col in ("backend", "modalities", "native dim", "matryoshka", "limits", "task prompts", "reference checkpoint"):
        backends.add_column(col)
    for b in registered_backends():
        limits = ", ".join(f"{k}={v:g}" for k, v in b.limits.items())
        prompts = ", ".join(sorted(b.task_prompts)) or "none"
        backends.add_row(
            b.name, ", ".join(b.modalities), str(b.reference_dim or "-"), str(b.matryoshka), limits, prompts,
            b.reference_checkpoint,
        )
    out.print(backends)
    from omnivec.encoders import catalog

    enc = Table(title="encoder backends")
    for col in ("name", "consumes", "gives", "runtime", "weights"):
        enc.add_column(col)
    for encoder in catalog():
        enc.add_row(encoder.name, ", ".join(encoder.modalities), encoder.output, encoder.runtime, encoder.weights)
    out.print(enc)


@app.command()
def align(
    audio_model: Annotated[Path, typer.Option("--audio-model", help="CLAP folder (or a configured model name).")],
    image_model: Annotated[Path, typer.Option("--image-model", help="CLIP/SigLIP 2 folder (or a configured model name).")],
    captions: Annotated[Path, typer.Option("--captions", help="Text file, one caption per line.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write (then: backend = \"base\", path = it).")],
) -> None:
    """Fit the text-pivot bridge from CLAP audio into the CLIP/SigLIP space and save it."""
    from omnivec.backends.align import align as fit
    from omnivec.backends.align import read_captions
    from omnivec.config import Settings

    settings = Settings.from_env()
    paths = {spec.name: spec.path for spec in settings.models}
    try:
        texts = read_captions(captions)
        with progress_bar(2 * len(texts), "embedding captions") as bar:
            task_id = bar.add_task("align", total=2 * len(texts), rate="")
            report = fit(
                paths.get(str(audio_model), audio_model), paths.get(str(image_model), image_model), texts, out_dir,
                settings, progress=lambda n: bar.advance(task_id, n),
            )
    except OmnivecError as exc:
        raise fail(exc.message) from None
    out.print(
        f"bridge fitted on {report.train} captions, ridge {report.ridge:g}; held-out {report.held_out} captions:\n"
        f"  error (1 - cosine to the image model's text vector): before {report.error_before:.4f}, "
        f"after {report.error_after:.4f}\n"
        f"  top-1 caption match: before {report.top1_before:.3f}, after {report.top1_after:.3f}\n"
        f"saved to {out_dir}; use it with [models.base] backend = \"base\", path = \"{out_dir.resolve()}\"",
        highlight=False, soft_wrap=True, markup=False,
    )


@app.command()
def build(model: Annotated[str, typer.Option("--model")] = "lite") -> None:
    """Load a model's encoders and compute its cached tables now (done lazily otherwise)."""
    from omnivec.embedder import Embedder

    try:
        instance: Any = Embedder(model).model
        instance.build()
    except OmnivecError as exc:
        raise fail(exc.message) from None
    err.print(f"model {model} is built (cache: {instance.settings.cache_dir})")


@app.command(name="eval")
def eval_command(
    model: Annotated[str, typer.Option("--model", help="Model to check.")] = "lite",
    dim: Annotated[list[int] | None, typer.Option("--dim", help="Widths to score (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N items per task (quick check).")] = None,
    compare_rotation: Annotated[bool, typer.Option("--compare-rotation", help="Also score without the Matryoshka rotation.")] = False,
    cache: Annotated[Path | None, typer.Option("--cache", help="Where the generated suite lives.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the report (markdown).")] = None,
) -> None:
    """Built-in self-check: cross-modal retrieval on generated speech, PDFs, images and video."""
    from omnivec.config import Settings
    from omnivec.evaluation.report import DIMS, quality_report
    from omnivec.evaluation.runner import TARGETS

    with progress_bar(2, "evaluating") as bar:
        task_id = bar.add_task("eval", total=None, rate="")

        def advance(done: int, total: int) -> None:
            bar.update(task_id, completed=done, total=total)

        try:
            report = quality_report(
                model, (cache or Settings.from_env().cache_dir / "eval").expanduser(), limit, tuple(dim or DIMS),
                (True, False) if compare_rotation else (True,), progress=advance,
            )
        except OmnivecError as exc:
            raise fail(exc.message) from None
    out_text = report.markdown
    print(out_text)
    if out:
        out.write_text(out_text + "\n", encoding="utf-8")
    passed = "FAIL" not in out_text.split("## Misses")[0]
    err.print(f"{len(TARGETS)} quality targets: {'all met' if passed else 'some missed (see FAIL lines)'}")


def _register_subcommands() -> None:
    """The server, index and batch commands live beside the code they drive."""
    from omnivec.api.serve_cli import serve
    from omnivec.batch.cli import batch_app
    from omnivec.index.cli import index_app, search

    app.command()(serve)
    app.command()(search)
    app.add_typer(index_app, name="index")
    app.add_typer(batch_app, name="batch")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register_subcommands()
    app()
