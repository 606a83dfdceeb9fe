"""What ``zenspec run``/``resume`` print when a launch returns, and how they fail.

The launch core returns Hydra's objects (a ``JobReturn``, batches of them, or
a sweeper's own value); this module turns them into the lines a user reads
and, when jobs failed, into a :class:`~zenspec.errors.JobFailedError` that
says where the records are and how to resume.
"""

from __future__ import annotations

import pprint
from pathlib import Path
from typing import IO, Any, List, Optional

from zenspec._compatibility import job_outcome
from zenspec.errors import EXIT_OK, JobFailedError, describe_error
from zenspec.text_table import render_table

__all__ = ["interrupted_message", "report_result", "report_stopped_study"]


def _short(value: Any, width: int = 70) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _flat_jobs(result: Any) -> List[Any]:
    from hydra.core.utils import JobReturn

    if isinstance(result, list) and all(isinstance(b, (list, tuple)) for b in result):
        return [j for batch in result for j in batch if isinstance(j, JobReturn)]
    return []


def _sweep_dir(jobs: List[Any]) -> Optional[Path]:
    # not hydra.sweep.dir: a JobReturn's hydra_cfg is a copy without the sweep's
    # resolver cache, so a ${now:...} in it would resolve to a later time
    for j in jobs:
        hydra_cfg = getattr(j, "hydra_cfg", None)
        if hydra_cfg is None:
            continue
        out = Path(hydra_cfg.hydra.runtime.output_dir)
        depth = len(Path(str(hydra_cfg.hydra.sweep.subdir)).parts)
        return out.parents[depth - 1].resolve() if depth else out.resolve()
    return None


def resume_hint(sweep_dir: Optional[Path], retry_failed: bool = False) -> str:
    if sweep_dir is None:
        return ""
    flag = " --retry-failed" if retry_failed else ""
    return f"zenspec resume {sweep_dir}{flag}"


def _records_table(sweep_dir: Optional[Path], maximize: bool) -> Optional[str]:
    from zenspec.records.render import render
    from zenspec.records.store import manifest_path
    from zenspec.records.table import load_results

    if sweep_dir is None or not manifest_path(sweep_dir).is_file():
        return None
    return render(load_results(sweep_dir), "table", maximize=maximize, outcome=True)


def report_result(
    result: Any,
    out: IO[str],
    quiet: bool = False,
    maximize: bool = False,
    sweep_dir: Optional[Path] = None,
) -> int:
    """Print *result* (what ``Spec.run`` returned); raise if any job failed.

    *sweep_dir*: where the sweep wrote, for a sweeper whose return value does not say.
    """
    from hydra.core.utils import JobReturn, JobStatus

    if isinstance(result, JobReturn):
        out.write(f"return value: {pprint.pformat(result.return_value)}\n")
        out.write(f"output: {getattr(result, 'output_dir', result.working_dir)}\n")
        return EXIT_OK
    summary = getattr(result, "summary", None)
    if callable(summary) and callable(getattr(result, "format_table", None)):
        # an optimising sweeper's study: every trial, sorted, and the best one
        if not quiet:
            out.write(result.format_table() + "\n")
        out.write(result.summary() + "\n")
        if getattr(result, "sweep_dir", None):
            out.write(f"outputs: {Path(result.sweep_dir).resolve()}\n")
        _raise_if_trials_failed(result)
        return EXIT_OK
    jobs = _flat_jobs(result)
    if not jobs:  # a sweeper with its own return value
        out.write(f"sweeper returned: {pprint.pformat(result)}\n")
        if sweep_dir is not None:
            out.write(f"outputs: {Path(sweep_dir).resolve()}\n")
        return EXIT_OK
    failed = [j for j in jobs if j.status is JobStatus.FAILED]
    sweep_dir = _sweep_dir(jobs)
    table = _records_table(sweep_dir, maximize)
    if table is not None:
        # from the records: every launcher, params, status, metric, duration
        out.write(table if not quiet else table.rstrip("\n").splitlines()[-1] + "\n")
    elif not quiet:
        rows = []
        for n, j in enumerate(jobs):
            if j.status is JobStatus.FAILED:
                value = f"FAILED {describe_error(job_outcome(j))}"
            else:
                value = _short(j.return_value)
            num = j.hydra_cfg.hydra.job.num if getattr(j, "hydra_cfg", None) is not None else n
            rows.append([str(num), " ".join(j.overrides or []), value])
        table = render_table(["#", "overrides", "result"], rows, align="><", min_widths=[3])
        out.write(table + "\n")
    if sweep_dir is not None:
        out.write(f"outputs: {sweep_dir}\n")
    if failed:
        first = failed[0]
        num = first.hydra_cfg.hydra.job.num if first.hydra_cfg is not None else "?"
        hint = resume_hint(sweep_dir, retry_failed=True)
        raise JobFailedError(
            f"{len(failed)} of {len(jobs)} job(s) failed (first: #{num}, "
            f"{describe_error(job_outcome(first))}); every other job ran and its result "
            "is kept.",
            results=result,
            hint="Fix: see the failed jobs' logs"
            + (f", then re-run only them: {hint}" if hint else "")
            + ".",
        )
    return EXIT_OK


def report_stopped_study(error: BaseException, out: IO[str], quiet: bool = False) -> None:
    """Print the trials of a study that stopped (``max_failures``) before its error is shown."""
    study: Any = getattr(error, "results", None)  # duck-typed: a StudyResult or alike
    if callable(getattr(study, "summary", None)) and callable(getattr(study, "format_table", None)):
        if not quiet:
            out.write(study.format_table() + "\n")
        out.write(study.summary() + "\n")


def _raise_if_trials_failed(study: Any) -> None:
    """A study with failed trials fails as a grid with failed jobs does (exit code 1)."""
    trials = list(getattr(study, "trials", None) or [])
    failed = list(getattr(study, "failures", None) or [])
    if not failed:
        return
    first = failed[0]
    where = getattr(study, "sweep_dir", None)
    logs = f"see the failed trials' logs under {where}" if where else "see the failed trials' logs"
    if not any(t.ok for t in trials):
        raise JobFailedError(
            f"no trial completed: {len(failed)} of {len(trials)} trial(s) failed, none gave a "
            f"result (first: trial #{first.number}, {first.error}).",
            results=study,
            hint=f"Fix: {logs}; every trial failed, so the task or its search space is wrong.",
        )
    raise JobFailedError(
        f"{len(failed)} of {len(trials)} trial(s) failed (first: trial #{first.number}, "
        f"{first.error}); the other trials ran and their results are kept.",
        results=study,
        hint=f"Fix: {logs}.",
    )


def interrupted_message(e: BaseException) -> str:
    """What to say after Ctrl-C: where the finished jobs are and how to go on."""
    what = "interrupted" if not hasattr(e, "signum") else f"terminated (signal {e.signum})"
    where = getattr(e, "zenspec_sweep_dir", None)
    if not where:
        return f"{what}\n"
    root = Path(where).resolve()
    done = "its finished jobs are recorded"
    try:
        from zenspec.records.table import load_results

        counts = load_results(root).counts
        done = f"{counts.get('completed', 0)} job(s) completed and recorded"
    except Exception:  # the records are best effort here; the hint is what matters
        pass
    return f"{what}: {done} in {root}\nto run the rest: {resume_hint(root)}\n"
