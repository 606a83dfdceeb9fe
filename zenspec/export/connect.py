"""Reaching an MLflow tracking store for an export, and leaving the process as it was.

MLflow is imported here, only when an export starts (never by ``import zenspec``);
the URI is checked before MLflow can misread it or wait minutes on a server that is
not there; MLflow's, SQLAlchemy's and HTTP errors become a :class:`ZenspecError`
that says what to fix; MLflow's and alembic's INFO lines are hushed for the call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, Optional

from zenspec.errors import ZenspecError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from zenspec.export.plan import SweepPlan

__all__ = [
    "artifact_location",
    "checked_uri",
    "client_class",
    "find_experiment",
    "mlflow_errors",
    "quiet",
    "restore_environ",
]

# where the errors of a store, its database or its server come from (OSError too: a file
# that cannot be written, an artifact that cannot be copied)
_STORE_MODULES = (
    "mlflow",
    "sqlalchemy",
    "requests",
    "urllib3",
    "botocore",
    "boto3",
    "azure",
    "google",
)
# loggers that announce a new SQLite store at INFO (table creation, each migration)
_CHATTY = ("mlflow", "alembic")


def checked_uri(uri: str) -> str:
    """*uri*, refused early when MLflow would misread it or would wait minutes on it."""
    text = uri.strip()
    if not text:
        raise ZenspecError(
            "--mlflow: the tracking URI is empty.", hint="Fix: --mlflow sqlite:///mlflow.db"
        )
    if "://" not in text and text.endswith((".db", ".sqlite", ".sqlite3")):
        # MLflow would take a bare path for a (deprecated) file store directory
        raise ZenspecError(
            f"--mlflow {text!r} is a path, not a tracking URI.",
            hint=f"Fix: --mlflow sqlite:///{text} (a SQLite file; sqlite:////abs/path.db for "
            "an absolute path).",
        )
    if text.startswith(("http://", "https://")):
        _probe(text)
    return text


def _probe(uri: str) -> None:
    # MLflow retries an unreachable server with back-off for minutes: a quick look first
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
            pass
    except urllib.error.HTTPError:
        return  # something answers (a proxy, a login): MLflow says the rest
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise ZenspecError(
            f"cannot reach the MLflow tracking server at {uri}: {reason}.",
            hint="Fix: start it (mlflow server --host 127.0.0.1 --port 5000) or correct the "
            "URI; or export to a local file: --mlflow sqlite:///mlflow.db",
        ) from e


def client_class() -> type[MlflowClient]:
    """``mlflow.tracking.MlflowClient``, imported now; a ZenspecError without MLflow."""
    from zenspec.launchers.forking import no_blas_pool

    try:
        # MLflow imports numpy (and pandas): without a BLAS thread pool, so that a sweep
        # this process runs later can still fork its joblib workers
        with no_blas_pool():
            # the package itself first: `from mlflow.tracking import` would find a cached
            # submodule even where mlflow was taken away (sys.modules["mlflow"] = None)
            import mlflow.tracking
    except ImportError as e:
        raise ZenspecError(
            "zenspec export --mlflow needs MLflow, which is not installed.",
            hint="Fix: pip install 'zenspec[mlflow]'",
        ) from e
    return mlflow.tracking.MlflowClient


@contextlib.contextmanager
def mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow's, SQLAlchemy's and HTTP errors as a ZenspecError naming the URI and the fix."""
    try:
        yield
    except ZenspecError:
        raise
    except Exception as e:
        if type(e).__module__.split(".")[0] not in _STORE_MODULES and not isinstance(e, OSError):
            raise  # not the store's: a bug, with its traceback
        said = " ".join(str(e).split())
        if len(said) > 400:
            said = said[:400] + "..."
        if uri.startswith("sqlite:"):
            hint = (
                "Fix: check the URI: sqlite:///relative/path.db or sqlite:////absolute/path.db, "
                "a file you can write."
            )
        elif uri.startswith("http"):
            hint = "Fix: check that the server runs MLflow and that you may write to it."
        else:
            hint = "Fix: use sqlite:///PATH.db (a local file) or http(s)://HOST:PORT (a server)."
        raise ZenspecError(f"MLflow at {uri}: {type(e).__name__}: {said}", hint=hint) from e


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's and alembic's INFO lines hushed while the export runs, the levels put back."""
    saved = {}
    for name in _CHATTY:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def restore_environ(saved: Dict[str, str]) -> None:
    """``os.environ`` as *saved*: variables added since removed, changed ones put back."""
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def artifact_location(uri: str) -> Optional[str]:
    """``<db dir>/mlartifacts`` of a SQLite file; None: MLflow's default (a server's own).

    MLflow's default for a SQLite store is ``./mlruns`` under whatever the current
    directory is: the artifacts would land wherever the command happened to run.
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return (Path(path).absolute().parent / "mlartifacts").as_uri()


def find_experiment(client: MlflowClient, plan: SweepPlan, uri: str) -> str:
    """The id of *plan*'s experiment, made if absent; a deleted one is refused."""
    found = client.get_experiment_by_name(plan.experiment)
    if found is None:
        tags = {"mlflow.note.content": plan.description} if plan.description else None
        return client.create_experiment(
            plan.experiment, artifact_location=artifact_location(uri), tags=tags
        )
    if found.lifecycle_stage == "deleted":
        raise ZenspecError(
            f"the MLflow experiment '{plan.experiment}' (id {found.experiment_id}) is deleted.",
            hint="Fix: pass another --experiment NAME, or restore it (in the MLflow UI, or "
            f"MLFLOW_TRACKING_URI={uri} mlflow experiments restore --experiment-id "
            f"{found.experiment_id}).",
        )
    return str(found.experiment_id)
