"""Where Dask work runs: local threads or processes, or a dask.distributed scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["dask_scheduler", "LOCAL_SCHEDULERS", "worker_memory_bytes", "task_budget_bytes"]

#: Scheduler names that need no cluster.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
#: ``local``: start a dask.distributed LocalCluster (worker processes) for the ``with`` block.
LOCAL_CLUSTER = "local"
#: dask config key holding the memory limit (bytes) of one worker inside ``dask_scheduler``
MEMORY_KEY = "microstructure.worker-memory-bytes"
#: what a worker process holds before any task (interpreter, numpy/scipy/numba, compiled
#: kernels; measured 210-300 MiB), and the fraction of its limit at which Dask pauses it
WORKER_BASE_BYTES = 300 * 2**20
PAUSE_FRACTION = 0.8
#: glibc mmap threshold of the ``local`` cluster's workers (see :func:`dask_scheduler`)
MMAP_THRESHOLD_BYTES = 64 * 2**20


def worker_memory_bytes() -> int | None:
    """The memory limit of one worker of the scheduler in use (inside :func:`dask_scheduler`:
    the smallest limit of the cluster's workers, or the ``memory_limit`` given for a local
    scheduler); None when unknown or unlimited."""
    import dask

    value = dask.config.get(MEMORY_KEY, None)
    return None if not value else int(value)


def task_budget_bytes() -> int | None:
    """Working memory one task may use on a worker: :data:`PAUSE_FRACTION` of the worker's
    limit minus :data:`WORKER_BASE_BYTES` (None when the limit is unknown)."""
    limit = worker_memory_bytes()
    if limit is None:
        return None
    return max(0, int(PAUSE_FRACTION * limit) - WORKER_BASE_BYTES)


def _parse_limit(memory_limit: str | int | None) -> int | None:
    if memory_limit is None:
        return None
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(memory_limit))
    except (ValueError, TypeError):
        raise ValueError(
            f"memory_limit: expected a size such as 2GiB or 1500MB, got {memory_limit!r}"
        ) from None
    if value <= 0:
        raise ValueError(f"memory_limit: must be > 0, got {memory_limit!r}")
    return value


@contextlib.contextmanager
def dask_scheduler(
    spec: str | None = "threads",
    *,
    workers: int | None = None,
    memory_limit: str | int | None = None,
) -> Iterator[Any]:
    """Run the Dask work inside the ``with`` block on the scheduler ``spec``.

    Parameters
    ----------
    spec
        ``"threads"`` (default), ``"processes"``, ``"synchronous"``, ``"local"`` (a
        dask.distributed LocalCluster of worker processes started for the block), or the
        address of a running dask.distributed scheduler (``"tcp://host:8786"``); ``None``
        means threads.
    workers
        ``local`` only: number of worker processes (1 thread each; default: the cores).
    memory_limit
        Memory limit of one worker (``"2GiB"``, bytes). ``local``: given to the cluster, which
        pauses a worker at 80 % and restarts it at 95 %. Threads/processes: the budget of one
        task. An address: the cluster's own limits are used (the smallest) and this is not
        allowed. Chunked stages size their slabs so a task fits (:func:`task_budget_bytes`).

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
    limit = _parse_limit(memory_limit)
    if workers is not None and (int(workers) < 1 or name != LOCAL_CLUSTER):
        raise ValueError(
            f"workers: the number of worker processes of scheduler 'local' (>= 1), got "
            f"{workers!r} with scheduler {name!r}"
        )
    if name in LOCAL_SCHEDULERS:
        with dask.config.set({"scheduler": name, MEMORY_KEY: limit}):
            yield None
        return
    if name == LOCAL_CLUSTER:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(
                "scheduler: 'local' needs dask.distributed (pip install distributed)"
            ) from None
        import os

        n = int(workers) if workers is not None else max(1, os.cpu_count() or 1)
        # the worker processes get a copy of the dask config: not a scheduler set by an
        # enclosing block (a client's method cannot be sent to another process). The nanny
        # sets MALLOC_TRIM_THRESHOLD_, which turns glibc's adaptive mmap threshold off, so
        # every array over 128 KiB becomes a fresh mmap (page faults on every FFT output):
        # a fixed mmap threshold keeps those in the heap (measured: chunked alignment
        # 10.3 s -> 7.2 s on 2 workers, the same peak RSS)
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
        environ.setdefault("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD_BYTES)
        with dask.config.set(
            {"scheduler": "threads", "distributed.nanny.pre-spawn-environ": environ}
        ):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=limit if limit is not None else "auto",
                dashboard_address=":0",
            )
        with cluster, Client(cluster, set_as_default=False) as client:
            with dask.config.set({"scheduler": client.get, MEMORY_KEY: _smallest(client)}):
                yield client
        return
    if limit is not None:
        raise ValueError(
            "memory_limit: a running cluster's workers have their own limits (set when the "
            "workers are started); not allowed with a scheduler address"
        )
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
        with dask.config.set({"scheduler": client.get, MEMORY_KEY: _smallest(client)}):
            yield client
    finally:
        client.close()


def _smallest(client: Any) -> int | None:
    """The smallest memory limit (bytes) of the client's workers; None when unlimited."""
    limits = [int(w.get("memory_limit") or 0) for w in client.scheduler_info()["workers"].values()]
    limits = [v for v in limits if v > 0]
    return min(limits) if limits else None
