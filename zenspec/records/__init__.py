"""Durable records of runs and sweeps: manifest, per-job results, results tables.

The on-disk format is documented in docs/records.md and versioned
(``format_version``).
"""

from zenspec.records.jobs import RecordingTask, read_job_records
from zenspec.records.manifest import read_manifest
from zenspec.records.render import render
from zenspec.records.table import JobRow, SweepResults, load_results

__all__ = [
    "JobRow",
    "RecordingTask",
    "SweepResults",
    "load_results",
    "read_job_records",
    "read_manifest",
    "render",
]
