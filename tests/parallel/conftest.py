"""One dask.distributed LocalCluster (two worker processes, 1 GiB each) for the whole
tests/parallel session: starting one costs seconds, and the workers keep their compiled
kernels between tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cluster():
    """A client connected to a two-worker LocalCluster, installed as the Dask scheduler."""
    distributed = pytest.importorskip("distributed")
    from microstructure.parallel import dask_scheduler

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="1GiB",
    ) as c:
        with dask_scheduler(c.scheduler_address) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            yield client
