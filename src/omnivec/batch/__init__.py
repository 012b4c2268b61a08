"""Batch jobs: embed a JSONL file of requests into .jsonl, .parquet or .npy, resumably, locally or on Ray.

``run_job`` is the library entry point (the CLI's ``omnivec batch run`` and the server's batch
API call it); see ``docs/batch.md`` for the input format, the outputs and crash recovery.
"""

from __future__ import annotations

from omnivec.errors import JobConflict

from .job import ENGINES, Engine, JobOptions, JobSummary, Progress, run_job, summary_path

__all__ = ["ENGINES", "Engine", "JobConflict", "JobOptions", "JobSummary", "Progress", "run_job", "summary_path"]
