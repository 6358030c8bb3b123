"""Grading on a Dask cluster: the same `grade_job` the local pool runs, submitted to Dask.

`--scheduler tcp://HOST:PORT` uses a running cluster; `--scheduler local:N` starts a
`distributed.LocalCluster` of N worker processes. Each job carries the notebook's bytes, so
workers need no shared file system; results come back here, where alone the gradebook and the
reports are written. Dask reschedules the task of a worker that dies; a task that kills workers
`allowed-failures` times ends as KilledWorker and is recorded as a failed submission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

INSTALL_HINT = "pip install 'lstm-grader[dask]'"
CONNECT_SECONDS = 10
RETRIES = 1  # an exception inside a task (not a bad notebook: that is a result) is tried once more


class DaskMissing(Exception):
    """The dask extra is not installed."""


class ClusterUnreachable(Exception):
    """No Dask scheduler answered at the address given."""


@contextmanager
def dask_executor(scheduler: str) -> Iterator[tuple[Callable, Callable]]:
    """(submit, as_completed) for `scheduler`, like concurrent.futures offers them."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise DaskMissing(INSTALL_HINT) from None
    cluster = None
    if scheduler.startswith("local:"):
        cluster = LocalCluster(n_workers=int(scheduler.split(":", 1)[1]), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as error:
            raise ClusterUnreachable(f"{scheduler}: {error}") from None
    try:
        def submit(function, job):
            return client.submit(function, job, pure=False, retries=RETRIES)

        yield submit, as_completed
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def killed_worker(error: BaseException) -> bool:
    return type(error).__name__ == "KilledWorker"
