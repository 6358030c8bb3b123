"""Grading on a real Dask cluster on loopback: the same results as the local pool, a worker
killed mid-run costs nothing, and no other local user can use the cluster of a batch."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from distributed.security import Security

from tests.leftovers import assert_no_jail_left
from tests.class_corpus import KINDS
from tests.notebooks import KERAS3, write_notebook
from tests.waiting import at_least_graded, graded_count, grading_bound, scheduler_address, wait_for

ROOT = Path(__file__).resolve().parent.parent
TESTER = "lstm-grader-tester"
BIN = Path(sys.executable).parent
FAST = ["--timeout", "20", "--run-timeout", "60", "--lang", "en"]


def make_small_class(folder: Path, size: int) -> None:
    kinds = list(KINDS)
    for number in range(size):
        (folder / f"c{number:02d}").mkdir(parents=True)
        write_notebook(folder / f"c{number:02d}", KINDS[kinds[number % len(kinds)]][0], name="lab.ipynb")
    (folder / "broken.ipynb").write_text("{")


def results(out: Path) -> dict[str, dict]:
    found = {}
    for path in (out / "results").glob("*.json"):
        data = json.loads(path.read_text())
        data.pop("seconds")
        found[data["notebook"]] = data
    return found


def grade(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(args), env=env)


def process_tree(root: int) -> list[int]:
    """`root` and every process under it, from each process's parent in /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError):  # not a process, or one that just ended
            continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return tree


def listening(root: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket that `root`'s process tree listens on in this network namespace."""
    inodes = set()
    for pid in process_tree(root):
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # ended meanwhile
            continue
        inodes |= {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                words = bytes.fromhex(address)  # each 32-bit word in the host's (little-endian) order
                packed = b"".join(words[i:i + 4][::-1] for i in range(0, len(words), 4))
                found.add((socket.inet_ntop(family, packed), int(port, 16)))
    return found


# Run as another local user against every port a batch listens on: a plain HTTP request over
# plain TCP; then, where HTTP does not answer it, a Dask client over plain TCP, one over TLS with a
# certificate of its own, each trying to run os.getuid on a worker, and a TLS connection with no
# certificate at all asking for the server's identity. Each attempt is bounded; each port's
# outcomes are one line of JSON. It makes ready (imports, its own certificate) before it reads the
# ports from its standard input, so that the attack itself takes no longer than the refusals.
INTRUDER = """
import asyncio, json, os, signal, socket, ssl, sys
from distributed import Client
from distributed.comm import connect
from distributed.security import Security

def plain_request(port):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    except OSError:  # nothing listens there (any more)
        return None
    with sock:
        sock.sendall(b"GET /sitemap.json HTTP/1.0\\r\\n\\r\\n")
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError:  # reset, or silent past the timeout
            pass
    return reply

def as_client(address, security):
    with Client(address, timeout=60, security=security) as client:
        return f"ran as uid {client.submit(os.getuid, pure=False).result(timeout=60)}"

def without_certificate(address):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    async def attempt():
        comm = await connect(address, timeout=60, ssl_context=context)
        await comm.write({"op": "identity"})
        return f"answered {await comm.read()}"
    return asyncio.run(attempt())

def no_answer(*_):
    raise TimeoutError

def bounded(attempt, *args):
    signal.alarm(180)
    try:
        return attempt(*args)
    except Exception as error:
        return type(error).__name__
    finally:
        signal.alarm(0)

signal.signal(signal.SIGALRM, no_answer)
own = Security.temporary()
for port in map(int, sys.stdin.read().split()):
    reply = plain_request(port)
    if reply is None:
        outcome = ["nothing listens"]
    elif reply.startswith(b"HTTP/"):
        outcome = ["http", reply.split(b"\\r\\n", 1)[0].decode(), reply.split(b"\\r\\n\\r\\n", 1)[1].decode()]
    else:
        outcome = [f"{len(reply)} bytes unasked", bounded(as_client, f"tcp://127.0.0.1:{port}", None),
                   bounded(as_client, f"tls://127.0.0.1:{port}", own),
                   bounded(without_certificate, f"tls://127.0.0.1:{port}")]
    print(json.dumps([port, outcome]), flush=True)
"""
# A Dask listener (the scheduler, each nanny, each worker) answers no one without the batch's certificate.
REFUSED = ("0 bytes unasked", "CommClosedError", "FatalCommClosedError", "CommClosedError")
# The HTTP server Dask starts in the scheduler and in each worker even without a dashboard: no route.
NO_ROUTE = ("http", "HTTP/1.1 200 OK", '{"paths": ["/sitemap.json"]}')


def intruder() -> subprocess.Popen:
    """INTRUDER, run as the ordinary user TESTER, getting ready."""
    return subprocess.Popen(["runuser", "-u", TESTER, "--", sys.executable, "-c", INTRUDER], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def intrude(intruder: subprocess.Popen, ports: set[int]) -> dict[int, tuple[str, ...]]:
    """The ready `intruder`'s outcomes at each of `ports`."""
    stdout, stderr = intruder.communicate(" ".join(map(str, ports)), timeout=3600)
    assert intruder.returncode == 0, stderr
    return {port: tuple(outcome) for port, outcome in map(json.loads, stdout.splitlines())}


def test_local_dask_cluster_gives_the_same_results_as_the_local_pool_and_no_other_user_gets_in(tmp_path):
    make_small_class(tmp_path / "class", 19)
    local = grade(str(tmp_path / "class"), "-o", str(tmp_path / "local"), "-j", "2", *FAST)
    attacker = intruder()
    run = subprocess.Popen([sys.executable, "-m", "grader", str(tmp_path / "class"), "-o", str(tmp_path / "cluster"),
                            "--scheduler", "local:2", *FAST], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    # broken.ipynb may be recorded before the cluster starts; the cluster is whole before its first result
    wait_for(at_least_graded(tmp_path / "cluster" / "gradebook.sqlite", 2), grading_bound(FAST, 2),
             "a submission graded on the cluster", run)
    sockets = listening(run.pid)
    outcomes = intrude(attacker, {port for _, port in sockets})
    alive = listening(run.pid) == sockets
    stdout, stderr = run.communicate(timeout=grading_bound([str(tmp_path / "class"), *FAST]))
    assert {address for address, _ in sockets} == {"127.0.0.1"}
    # A scheduler, two nannies and two workers; an HTTP server in the scheduler and in each worker.
    assert Counter(outcomes.values()) == {REFUSED: 5, NO_ROUTE: 3}, outcomes
    assert alive, "the batch's cluster ended before the attack did"
    assert (local.returncode, run.returncode) == (1, 1), stderr  # broken.ipynb
    assert "Graded 19, failed to grade 1" in stdout
    assert len(results(tmp_path / "cluster")) == 20
    assert results(tmp_path / "cluster") == results(tmp_path / "local")


def tls_files(folder: Path, security: Security) -> dict[str, str]:
    """`security`'s certificate (its own CA) and key as files, readable by this user only."""
    folder.mkdir(mode=0o700)
    files = {"ca": security.tls_ca_file, "cert": security.tls_client_cert, "key": security.tls_client_key}
    for name, content in files.items():
        (folder / f"{name}.pem").touch(mode=0o600)
        (folder / f"{name}.pem").write_text(content)
    return {name: str(folder / f"{name}.pem") for name in files}


def dask_config(tls: dict[str, str]) -> dict[str, str]:
    """The grader's environment with `tls` as Dask's client credentials, as README says to set them."""
    return {**os.environ, "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": tls["ca"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": tls["cert"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": tls["key"]}


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two real workers, as separate processes on loopback, speaking TLS with a
    certificate made for the test: (address, workers, the grader's environment with that certificate)."""
    tls = tls_files(tmp_path / "tls", Security.temporary())
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard", "--protocol", "tls", "--tls-ca-file", tls["ca"], "--tls-cert", tls["cert"],
              "--tls-key", tls["key"]]
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(scheduler_file), *common],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers = [subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                 "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", *common],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in range(2)]
    # a scheduler's start is less work than one notebook's grading
    address = wait_for(lambda: scheduler_address(scheduler_file), grading_bound(FAST), "the dask scheduler's address",
                       scheduler)
    yield address, workers, dask_config(tls)
    for process in [*workers, scheduler]:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, dask_cluster):
    address, workers, env = dask_cluster
    folder = tmp_path / "class"
    for number in range(12):
        (folder / f"k{number:02d}").mkdir(parents=True)
        write_notebook(folder / f"k{number:02d}", KERAS3, name="lab.ipynb")
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "grader", str(folder), "-o", str(out), "--scheduler", address,
                            *FAST], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    book = out / "gradebook.sqlite"
    wait_for(at_least_graded(book, 2), grading_bound(FAST, 2), "two graded submissions", run)
    os.killpg(workers[0].pid, signal.SIGKILL)  # one worker dies, with whatever it was grading
    stdout, stderr = run.communicate(timeout=grading_bound([str(folder), *FAST]))
    assert run.returncode == 0, stderr
    with sqlite3.connect(book) as db:
        rows = db.execute("SELECT file, score FROM submissions").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(rows) == len({file for file, _ in rows}) == 12  # every submission, exactly once
    assert {score for _, score in rows} == {100}
    assert_no_jail_left()  # the killed run's workers, warm parents and kernels died with it


def test_a_tls_scheduler_refuses_a_grader_without_its_certificate(tmp_path, dask_cluster):
    address, _, _ = dask_cluster
    (tmp_path / "class").mkdir()
    write_notebook(tmp_path / "class", KERAS3, name="a.ipynb")
    unset = grade(str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--scheduler", address)
    assert (unset.returncode, unset.stderr) == (2, f"grade: no Dask scheduler answered at {address}: no TLS "
                                                   "certificate in Dask's configuration (distributed.comm.tls.ca-file, "
                                                   "distributed.comm.tls.client.cert and .key)\n")
    other = dask_config(tls_files(tmp_path / "other", Security.temporary()))
    wrong = grade(str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--scheduler", address, env=other)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith(f"grade: no Dask scheduler answered at {address}: TLS certificate does not match")
    assert wrong.stderr.count("\n") == 1
    assert graded_count(tmp_path / "out" / "gradebook.sqlite") == 0


def test_unreachable_scheduler_is_one_line(tmp_path):
    (tmp_path / "class").mkdir()
    write_notebook(tmp_path / "class", KERAS3, name="a.ipynb")
    done = grade(str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.startswith("grade: no Dask scheduler answered at tcp://127.0.0.1:9")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("address", ["local:abc", "local:0", "local:", "http://host:8786", "host:8786"])
def test_a_scheduler_address_of_no_known_shape_is_one_line_and_exit_2(tmp_path, address):
    make_small_class(tmp_path / "class", 1)
    done = grade(str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--scheduler", address)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("grade: error: argument --scheduler: ")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert not (tmp_path / "out").exists()
