"""Where the Ray launcher's jobs run: the address, ``ray.init``, token auth, signal handlers.

Split from :mod:`zenspec.launchers.ray` (the launcher) so that starting or
connecting Ray, and what that does to this process (its SIGTERM handler, its
``RAY_AUTH_MODE``), read in one place. :class:`RayConnection` is the part of
:class:`~zenspec.launchers.ray.RayLauncher` that does it.

Where Ray runs (``address``): omitted, the Ray this process already
initialised, else a new local Ray (``ray.init(address="local")``: never a
cluster that happens to run on the node, nor ``RAY_ADDRESS``); ``"auto"``, the
cluster running on this node (or ``RAY_ADDRESS``); ``"host:port"`` or
``"ray://host:10001"``, that cluster. An address that does not answer, or that
refuses the connection for want of an authentication token, is a
:class:`~zenspec.errors.LaunchError` naming ``$.launcher.address``, raised
within seconds and before any job is launched. Only what this launcher started
or connected is shut down, when the zenspec launch ends (a sweep that launches
many batches reuses it).

``ray.init`` replaces the SIGTERM handler, and ``ray.wait``/``ray.get`` turn
what a signal handler raises into a bare ``KeyboardInterrupt``: zenspec's own
handler is put back (:func:`_keep_sigterm_handler`) and its exception kept for
re-raising (:func:`_signal_exceptions`), so SIGTERM stays SIGTERM (exit 143).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from zenspec.launchers.ray_jobs import _first_line

# the launcher's logger (the name its log lines have always carried)
log = logging.getLogger("zenspec.launchers.ray")

#: the key path of the address in a spec, for errors
ADDRESS_PATH = "$.launcher.address"
#: seconds an explicit address has to answer (TCP, then Ray's GCS handshake)
CONNECT_TIMEOUT_S = 10


def _chain_text(error: BaseException) -> str:
    """The messages of *error* and of every exception it was raised from."""
    parts, seen = [], set()
    e: Optional[BaseException] = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    return "\n".join(parts)


def _host_port(address: str) -> Optional[Tuple[str, int]]:
    """``(host, port)`` of an explicit address (``host:port``, ``ray://host:port``)."""
    rest = address.split("://", 1)[1] if "://" in address else address
    rest = rest.split("/", 1)[0]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """``ray.init`` replaces the SIGTERM handler (``sys.exit``, or: kill the local Ray, exit 1).

    zenspec's own (SIGTERM as :class:`~zenspec.errors.Terminated`, handled as
    Ctrl-C: the unfinished jobs cancelled and recorded ``interrupted``, then a
    Ray this launcher started shut down by :meth:`RayConnection.close`) is put back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signal_exceptions() -> Iterator[List[BaseException]]:
    """What the SIGTERM/SIGHUP handlers raise while Ray blocks, kept for re-raising.

    ``ray.wait``/``ray.get`` run the signal handlers but turn whatever they
    raise into a bare ``KeyboardInterrupt``: zenspec's
    :class:`~zenspec.errors.Terminated` (exit code 143) would become a Ctrl-C
    (130). The handlers are wrapped for the block, to remember their exception.
    """
    raised: List[BaseException] = []
    if threading.current_thread() is not threading.main_thread():
        yield raised
        return
    wrapped: Dict[int, Tuple[Any, Any]] = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        old = signal.getsignal(sig)
        if not callable(old):
            continue

        def handler(signum: int, frame: Any, old: Any = old) -> None:
            try:
                old(signum, frame)
            except BaseException as e:
                raised.append(e)
                raise

        signal.signal(sig, handler)
        wrapped[sig] = (old, handler)
    try:
        yield raised
    finally:
        for sig, (old, handler) in wrapped.items():
            if signal.getsignal(sig) is handler:  # (the handler may have changed it)
                signal.signal(sig, old)


class RayConnection:
    """Start or connect Ray as the launcher's options say; shut down only what it started.

    A base of :class:`~zenspec.launchers.ray.RayLauncher`, which sets these
    attributes in its ``__init__``.
    """

    address: Optional[str]
    num_cpus: Optional[int]
    num_gpus: Optional[int]
    runtime_env: Dict[str, Any]
    init: Dict[str, Any]
    started: bool
    _auth_mode: Optional[Tuple[bool, Optional[str]]]

    def _ensure_ray(self) -> bool:
        """Initialise Ray unless it is; True if this call started (or connected) it."""
        import ray

        if ray.is_initialized():
            if self.address or self.num_cpus or self.num_gpus:
                log.info("Ray is already initialised in this process: using it as it is")
            return False
        kwargs: Dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
        kwargs.update(self.init)
        address = self.address if self.address is not None else kwargs.get("address")
        # omitted: a new local Ray, whatever runs on this node or RAY_ADDRESS says
        kwargs["address"] = "local" if address in (None, "") else str(address)
        if self.num_cpus is not None:
            kwargs["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            kwargs["num_gpus"] = self.num_gpus
        if self.runtime_env:
            kwargs["runtime_env"] = self.runtime_env
        explicit = kwargs["address"] not in ("local", "auto")
        if explicit:
            self._check_answers(kwargs["address"])
        # a local Ray sets RAY_AUTH_MODE=token in os.environ: given back by close()
        self._auth_mode = ("RAY_AUTH_MODE" in os.environ, os.environ.get("RAY_AUTH_MODE"))
        with self._bounded_connect(explicit), _keep_sigterm_handler():
            try:
                ray.init(**kwargs)
            except Exception as e:
                self._give_back_auth_mode()
                raise self._connect_error(kwargs["address"], e) from e
        return True

    def _check_answers(self, address: str) -> None:
        """A LaunchError at once if nothing listens at an explicit address."""
        from zenspec.errors import LaunchError

        where = _host_port(address)
        if where is None:
            return  # Ray says what is wrong with it (below)
        try:
            socket.create_connection(where, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as e:
            if isinstance(e, socket.timeout):
                reason = f"no answer within {CONNECT_TIMEOUT_S} s"
            else:
                reason = (e.strerror or str(e)).lower()
            raise LaunchError(
                f"no Ray cluster answers at {address!r} ({reason}); no job was launched.",
                path=ADDRESS_PATH,
                hint="Fix: start the cluster (`ray start --head` on its head node) or "
                "correct the address; omit it to run on a new local Ray.",
            ) from None

    @staticmethod
    @contextlib.contextmanager
    def _bounded_connect(explicit: bool) -> Iterator[None]:
        """Ray retries a cluster's GCS for 20 s (once a second): fewer for an explicit address.

        The port answered already (:meth:`_check_answers`); what Ray may still
        wait for is a handshake that will not succeed (a missing token).
        ``RAY_gcs_server_port_wait_time_s`` set by the user is kept.
        """
        name = "RAY_gcs_server_port_wait_time_s"
        if not explicit or name in os.environ:
            yield
            return
        os.environ[name] = str(CONNECT_TIMEOUT_S)
        try:
            yield
        finally:
            os.environ.pop(name, None)

    def _connect_error(self, address: str, error: BaseException) -> BaseException:
        from zenspec.errors import LaunchError

        text = _chain_text(error)
        auth = type(error).__name__ == "AuthenticationError" or any(
            word in text for word in ("Unauthenticated", "InvalidAuthToken", "auth token")
        )
        if auth:
            mode = os.environ.get("RAY_AUTH_MODE")
            return LaunchError(
                f"the Ray cluster at {address!r} requires token authentication and "
                + (
                    "RAY_AUTH_MODE is not set, so no token was sent"
                    if mode is None
                    else f"its token was not accepted (RAY_AUTH_MODE={mode})"
                )
                + "; no job was launched.",
                path=ADDRESS_PATH,
                hint="Fix: run with RAY_AUTH_MODE=token and the cluster's token in "
                "~/.ray/auth_token, $RAY_AUTH_TOKEN or the file $RAY_AUTH_TOKEN_PATH "
                "(`ray get-auth-token` on the head node prints it); Ray sends a token to an "
                'explicit address only when told to. Or use address = "auto" for the '
                "cluster on this node.",
            )
        if isinstance(error, (ConnectionError, RuntimeError, TimeoutError, ValueError)):
            what = (
                "a new local Ray could not start"
                if address == "local"
                else (f"could not connect to the Ray cluster at {address!r}")
            )
            return LaunchError(
                f"{what}: {_first_line(str(error)).rstrip('.')}; no job was launched.",
                path=ADDRESS_PATH,
                hint='Fix: omit the address for a new local Ray, "auto" for the cluster '
                'started with `ray start` on this node, or "host:port" of a running one.',
            )
        return error

    def close(self) -> None:
        """Shut Ray down if this launcher started it (idempotent)."""
        if self.started:
            import ray

            self.started = False
            ray.shutdown()
            self._give_back_auth_mode()

    def _give_back_auth_mode(self) -> None:
        """``RAY_AUTH_MODE`` as it was before ``ray.init`` (a new local Ray sets it)."""
        if self._auth_mode is not None:
            had, value = self._auth_mode
            self._auth_mode = None
            if not had:
                os.environ.pop("RAY_AUTH_MODE", None)
            elif value is not None:
                os.environ["RAY_AUTH_MODE"] = value
