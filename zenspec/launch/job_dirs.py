"""Each job's directory is inside its sweep's: checked on the resolved paths.

The spec layer refuses a ``hydra.sweep.subdir`` or ``hydra.job.name`` whose own
text leaves its directory (:mod:`zenspec.spec.paths`); an interpolation can
still resolve to one at run time (``${hydra.job.override_dirname}`` with an
override value ``a/../../..``, ``${oc.env:...}``). Refused here, before the job
makes its directory: for a grid before any job runs (:func:`check_job_dirs`,
from the launch core), for any other job as its directory is resolved
(:func:`job_dir_refusal`, from ``run_job``).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from zenspec.errors import LaunchError

__all__ = ["JOB_DIR_HINT", "check_job_dirs", "job_dir_refusal", "unplant_links"]

JOB_DIR_HINT = (
    "Fix: keep '/' and '..' out of the values that name job directories (an override's "
    "value is part of ${hydra.job.override_dirname}; hydra.job.config.override_dirname."
    "exclude_keys leaves a key out), or use hydra.sweep.subdir = '${hydra.job.num}' (the "
    "default)."
)


def job_dir_refusal(sweep_dir: str, subdir: str, job_name: Any = None) -> Optional[str]:
    """Why the job's directory (or log name) is not inside *sweep_dir*, or None.

    Lexical, as Hydra's own ``os.path.join``: ``..`` is resolved against the
    path text, symlinks are not followed.
    """
    parent = os.path.normpath(os.path.abspath(sweep_dir))
    child = os.path.normpath(os.path.abspath(os.path.join(sweep_dir, subdir)))
    if child == parent:
        return (
            f"the job's directory (hydra.sweep.subdir resolved to {subdir!r}) is the sweep "
            f"directory {parent} itself, not a directory inside it."
        )
    if os.path.commonpath([parent, child]) != parent:
        return (
            f"the job's directory (hydra.sweep.subdir resolved to {subdir!r}) is {child}, "
            f"outside the sweep directory {parent}."
        )
    if job_name is not None:
        name = str(job_name)
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            return (
                f"hydra.job.name resolved to {name!r}, which is not a single name: the job's "
                f"log (<job dir>/<name>.log) would be written outside the job's directory."
            )
    return None


def _subdir_is_num(config: Any) -> bool:
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(config.hydra.sweep, resolve=False)
    return isinstance(raw, dict) and raw.get("subdir") == "${hydra.job.num}"


def check_job_dirs(config: Any, loader: Any, jobs: Iterable[Tuple[int, Sequence[str]]]) -> None:
    """Refuse the sweep (:class:`LaunchError`) if one of *jobs*' directories leaves the sweep dir.

    *jobs*: ``(job number, job overrides)``. Composes each job's config as its
    launcher will, unless ``hydra.sweep.subdir`` is the default
    ``${hydra.job.num}`` (a number: always inside). A job whose subdir cannot be
    resolved here is left to ``run_job``, which fails it with Hydra's message.
    """
    if _subdir_is_num(config):
        return
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from zenspec._compatibility import job_id

    holder = HydraConfig.instance()
    before = holder.cfg
    try:
        for num, overrides in jobs:
            try:
                job_cfg = loader.load_sweep_config(config, list(overrides))
                with open_dict(job_cfg):
                    job_cfg.hydra.job.id = job_id(num)
                    job_cfg.hydra.job.num = num
                holder.set_config(job_cfg)
                sweep_dir = str(job_cfg.hydra.sweep.dir)
                subdir = str(job_cfg.hydra.sweep.subdir)
                name = job_cfg.hydra.job.name
            except Exception:  # the job itself will fail with Hydra's own message
                continue
            refusal = job_dir_refusal(sweep_dir, subdir, name)
            if refusal is not None:
                shown = " ".join(overrides) or "(no overrides)"
                raise LaunchError(f"job #{num} ({shown}): {refusal}", hint=JOB_DIR_HINT)
    finally:
        holder.cfg = before


# stderr (Python's last-resort handler), never a job's log or the caller's handlers
_links_log = logging.getLogger("zenspec.links")
_links_log.propagate = False

# what Hydra's run_job writes in a job's directory: <output_subdir>/ and these files in
# it, and the job's log (<job name>.log)
_HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")


def unplant_links(sweep_dir: Any, output_subdir: Optional[str] = ".hydra") -> List[str]:
    """Remove symbolic links planted where a job of the sweep will write; return them.

    zenspec's own ``run_job`` writes with ``O_NOFOLLOW``, but stock Hydra's (the
    path on hydra-core 1.4, and the fallback of every version) opens its files as
    they are: a link at ``<job>/.hydra/config.yaml``, at ``<job>/.hydra`` or at a job
    directory itself would have a resumed job write through it, over the file it
    points at. Links are unlinked, never followed (their targets are untouched):
    directories at the top of the sweep directory that are links (a job directory),
    and, in each real job directory, a linked *output_subdir*, the files Hydra writes
    in it, and ``*.log``. ``.zenspec`` is left alone (its readers and writers refuse
    links themselves).
    """
    removed: List[str] = []

    def unlink(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            return
        removed.append(path)

    try:
        entries = list(os.scandir(os.fspath(sweep_dir)))
    except OSError:  # no sweep directory yet: nothing planted
        return removed
    for entry in entries:
        if entry.name == ".zenspec":
            continue
        if entry.is_symlink():
            if os.path.isdir(entry.path):  # a linked job directory
                unlink(entry.path)
            continue
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            inner = list(os.scandir(entry.path))
        except OSError:
            continue
        for item in inner:
            if item.is_symlink():
                if item.name == output_subdir or item.name.endswith(".log"):
                    unlink(item.path)
            elif output_subdir and item.name == output_subdir and item.is_dir():
                for name in _HYDRA_FILES:
                    path = os.path.join(item.path, name)
                    if os.path.islink(path):
                        unlink(path)
    if removed:
        _links_log.warning(
            "removed %d symbolic link(s) planted where the sweep's jobs write (zenspec never "
            "writes through one; their targets are untouched): %s",
            len(removed),
            ", ".join(removed[:5]) + (" ..." if len(removed) > 5 else ""),
        )
    return removed
