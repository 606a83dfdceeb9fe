"""Recorded sweeps, exported to other tools: ``zenspec export SWEEP_DIR... --mlflow URI``.

:func:`export_mlflow` logs sweeps to an MLflow tracking store (``pip install
'zenspec[mlflow]'``); MLflow is imported only when an export starts, never by
``import zenspec``. See ``docs/mlflow.md``.
"""

from __future__ import annotations

from zenspec.export.mlflow import ExportSummary, SweepExport, export_mlflow

__all__ = ["ExportSummary", "SweepExport", "export_mlflow"]
