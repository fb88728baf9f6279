"""Where Dask work runs: local threads or processes, or a dask.distributed scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["dask_scheduler", "LOCAL_SCHEDULERS"]

#: Scheduler names that need no cluster.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")


@contextlib.contextmanager
def dask_scheduler(spec: str | None = "threads") -> Iterator[Any]:
    """Run the Dask work inside the ``with`` block on the scheduler ``spec``.

    Parameters
    ----------
    spec
        ``"threads"`` (default), ``"processes"``, ``"synchronous"``, or the address of a running
        dask.distributed scheduler (``"tcp://host:8786"``); ``None`` means threads.

    Yields
    ------
    distributed.Client or None
        The client connected to the cluster, or None for a local scheduler.

    Raises
    ------
    ValueError
        For an address without ``dask.distributed`` installed, or one that does not answer.
    """
    import dask

    name = spec or "threads"
    if name in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=name):
            yield None
        return
    if "://" not in name and ":" not in name:
        raise ValueError(
            f"scheduler: expected one of {', '.join(LOCAL_SCHEDULERS)} or a scheduler address "
            f"such as tcp://host:8786, got {name!r}"
        )
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "scheduler: an address needs dask.distributed (pip install distributed)"
        ) from None
    try:
        client = Client(name, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise ValueError(f"scheduler: cannot reach {name} ({exc})") from None
    try:
        with dask.config.set(scheduler=client.get):
            yield client
    finally:
        client.close()
