"""Adaptive sweeps: metrics while a job runs, pruning, per-job seeds.

``report`` and ``Pruned`` are the task-side API (re-exported by ``zenspec``);
the sweep side (the pruning monitor) lives in :mod:`zenspec.adaptive.pruning`.
"""
