"""Grading on a Dask cluster: the same `grade_job` the local pool runs, submitted to Dask.

`--scheduler tcp://HOST:PORT` or `tls://HOST:PORT` uses a running cluster; `--scheduler local:N`
starts a `distributed.LocalCluster` of N worker processes. Each job carries the notebook's bytes,
so workers need no shared file system; results come back here, where alone the gradebook and the
reports are written. Dask reschedules the task of a worker that dies; a task that kills workers
`allowed-failures` times ends as KilledWorker and is recorded as a failed submission.

Whoever can talk to a Dask scheduler runs any code on its workers, as their user (root, when the
batch runs as root). So the local cluster speaks only TLS with a key and a self-signed certificate
made for this run (`Security.temporary()`), which stay in the memory of this process and of its
workers: every listener, the scheduler's, each nanny's and each worker's, refuses a peer without
that certificate. It listens on 127.0.0.1 only, and its HTTP servers (which Dask starts even
without a dashboard) serve nothing but an empty site map. A remote cluster's credentials come from
Dask's own configuration (`distributed.comm.tls.*`), as for every Dask client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

INSTALL_HINT = "pip install 'lstm-grader[dask]'"
CONNECT_SECONDS = 10
RETRIES = 1  # an exception inside a task (not a bad notebook: that is a result) is tried once more
LOOPBACK = "127.0.0.1"
# No status pages, metrics, logs or proxy on the HTTP servers of the local cluster's scheduler
# and workers: the routes are Dask's configuration, which each worker process gets from its nanny.
NO_HTTP_ROUTES = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}


class DaskMissing(Exception):
    """The dask extra is not installed."""


class ClusterUnreachable(Exception):
    """No Dask scheduler answered at the address given."""


@contextmanager
def dask_executor(scheduler: str) -> Iterator[tuple[Callable, Callable]]:
    """(submit, as_completed) for `scheduler`, like concurrent.futures offers them."""
    try:
        from distributed import as_completed
    except ImportError:
        raise DaskMissing(INSTALL_HINT) from None
    connect = _local_client if scheduler.startswith("local:") else _remote_client
    with connect(scheduler) as client:
        def submit(function, job):
            return client.submit(function, job, pure=False, retries=RETRIES)

        yield submit, as_completed


@contextmanager
def _local_client(scheduler: str) -> Iterator[Client]:
    """A client of a new LocalCluster of `local:N` workers that only this process and its workers can use."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.security import Security

    try:
        security = Security.temporary()
    except ImportError:  # of cryptography
        raise DaskMissing(INSTALL_HINT) from None
    with dask.config.set(NO_HTTP_ROUTES):  # for the whole run: a worker that dies is started again with it
        cluster = LocalCluster(n_workers=int(scheduler.split(":", 1)[1]), threads_per_worker=1, processes=True,
                               host=LOOPBACK, protocol="tls://", security=security, dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": f"{LOOPBACK}:0"})  # not Dask's fixed 8787
        try:
            with Client(cluster) as client:  # with the cluster's security
                yield client
        finally:
            cluster.close()


@contextmanager
def _remote_client(scheduler: str) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, with the TLS credentials of Dask's configuration."""
    from distributed import Client
    from distributed.security import Security

    security = Security()
    tls = scheduler.startswith("tls://")
    if tls and not (security.tls_ca_file and security.tls_client_cert):
        raise ClusterUnreachable(f"{scheduler}: no TLS certificate in Dask's configuration "
                                 "(distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key)")
    if security.require_encryption and not tls:
        raise ClusterUnreachable(f"{scheduler}: Dask's configuration requires encryption "
                                 "(distributed.comm.require-encryption): use a tls:// address")
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS, security=security)
    except (OSError, TimeoutError) as error:
        raise ClusterUnreachable(f"{scheduler}: {error}") from None
    with client:
        yield client


def killed_worker(error: BaseException) -> bool:
    return type(error).__name__ == "KilledWorker"
