"""A hostile corpus: notebooks that attack the grader or the machine. Each must end with the
exact status, within its limit, keeping what was graded before, and leave nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from grader import grade as grade_module
from grader.kernel.sandbox import Limits
from grader.options import GradeOptions
from tests.leftovers import assert_no_jail_left, warm_jails
from tests.notebooks import IMPORTS, KERAS3, write_notebook

DENSE = "model.add(Dense(100))\nmodel.add(Dense(10))"
FAST = replace(Limits(), cell_seconds=20, notebook_seconds=90)


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert_no_jail_left({os.getpid()}, timeout=0, keep=warm_jails())


def attack(tmp_path, step4: str = DENSE, *, step5: str = "model.summary()", step1_extra: str = "",
           limits: Limits = FAST, **options):
    """Grade the Keras 3 answer with step 4 (and maybe 5) replaced; return result and seconds."""
    sources = [KERAS3[0] + step1_extra, KERAS3[1], KERAS3[2], step4, step5]
    started = time.monotonic()
    options.setdefault("warm", True)  # warm kernels, as in a batch: test_warm shows cold ones are equal
    result = grade_module.grade_notebook(write_notebook(tmp_path, sources), GradeOptions(lang="en", limits=limits, **options))
    return result, time.monotonic() - started


def scores(result) -> list[int]:
    return [step.score for step in result.steps]


KEPT = [20, 20, 20, 0, 0]  # steps 1-3 were graded before step 4's incident


def test_infinite_loop_ends_at_the_cell_limit(tmp_path):
    result, seconds = attack(tmp_path, "while True:\n    pass", limits=replace(FAST, cell_seconds=3))
    assert (result.status, scores(result)) == ("timeout", KEPT)
    assert "time limit (3 s)" in result.notes[0]
    assert seconds < 25


def test_loop_that_swallows_keyboard_interrupt_is_killed(tmp_path):
    hang = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    result, seconds = attack(tmp_path, hang, limits=replace(FAST, cell_seconds=3))
    assert (result.status, scores(result)) == ("timeout", KEPT)
    assert seconds < 25


def test_whole_notebook_time_limit(tmp_path):
    slow = "import time\ntime.sleep(4)\n" + DENSE
    result, seconds = attack(tmp_path, slow, step5="import time\ntime.sleep(30)",
                             limits=replace(FAST, notebook_seconds=14))
    assert result.status == "timeout"
    assert scores(result)[:3] == [20, 20, 20]
    assert "(14 s)" in result.notes[0]
    assert seconds < 30


@pytest.mark.parametrize("bomb", ["x = bytearray(64 * 2**30)", "import numpy as np\nx = np.ones(8 * 2**30)"])
def test_memory_bomb_of_64_gib_ends_at_the_memory_limit_in_seconds(tmp_path, bomb):
    result, seconds = attack(tmp_path, bomb)
    assert (result.status, scores(result)) == ("memory_limit", KEPT)
    assert "memory limit (4 GiB)" in result.notes[0]
    assert seconds < 20


@pytest.fixture
def cpu_hog():
    """Both cores busy, as on a loaded machine."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_fork_bomb_ends_at_the_process_limit(tmp_path, cpu_hog):
    result, _ = attack(tmp_path, "import os\nwhile True:\n    os.fork()", limits=replace(FAST, processes=64))
    assert (result.status, scores(result)) == ("process_limit", KEPT)


def test_huge_output_is_cut_at_the_output_limit(tmp_path):
    result, seconds = attack(tmp_path, "print('x' * (20 * 2**20))\n" + DENSE)
    assert (result.status, scores(result)) == ("output_limit", KEPT)
    assert "(2 MiB)" in result.notes[0]
    assert seconds < 20


def test_endless_printing_is_cut_at_the_output_limit(tmp_path):
    result, seconds = attack(tmp_path, "while True:\n    print('spam ' * 1000)")
    assert (result.status, scores(result)) == ("output_limit", KEPT)
    assert seconds < 20


def test_big_file_ends_at_the_file_size_limit(tmp_path):
    result, seconds = attack(tmp_path, "open('big.bin', 'wb').write(b'0' * (100 * 2**20))\n" + DENSE)
    assert (result.status, scores(result)) == ("file_size_limit", KEPT)
    assert "(64 MiB)" in result.notes[0]
    assert seconds < 20


def test_cpu_time_limit(tmp_path):
    result, seconds = attack(tmp_path, "while True:\n    pass", limits=replace(FAST, cpu_seconds=12, cell_seconds=60))
    assert (result.status, scores(result)) == ("cpu_limit", KEPT)
    assert seconds < 40


def test_writing_outside_the_working_directory_is_refused(tmp_path):
    assert os.geteuid() == 0, "the read-only system of the sandbox needs the grader to run as root"
    targets = [tmp_path / "escape.txt", Path("/tmp") / f"escape-{os.getpid()}.txt", Path.home() / "escape.txt"]
    code = (f"for path in {[str(t) for t in targets]!r}:\n    try:\n        open(path, 'w').write('x')\n"
            "    except OSError as error:\n        print('refused', error.errno)\nopen('mine.txt', 'w').write('ok')\n")
    result, _ = attack(tmp_path, code + DENSE)
    assert (result.status, result.score) == ("graded", 100)
    assert not any(target.exists() for target in targets)


def test_environment_secrets_do_not_reach_the_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_sekrit")
    result, _ = attack(tmp_path, step5="import os\nprint(sorted(os.environ.items()))\nmodel.summary()")
    assert result.score == 100
    assert "TF_NUM_INTRAOP_THREADS" in result.summary_text  # the printout is there
    assert "sekrit" not in result.summary_text and "AWS_SECRET_ACCESS_KEY" not in result.summary_text


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(20)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()


def _accept(server):
    try:
        return server.accept()[1]
    except OSError:
        return None


CONNECT = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
           "    print('NETWORK: connected')\nexcept OSError as error:\n    print('NETWORK:', error)\nmodel.summary()")


def test_no_network_by_default(tmp_path, listener):
    port, accepted = listener
    result, _ = attack(tmp_path, step5=CONNECT.format(port=port))
    assert result.score == 100
    assert "NETWORK: [Errno 111] Connection refused" in result.summary_text  # the jail's own loopback
    assert [peer for peer in accepted if peer] == []


def test_allow_network_lets_the_kernel_connect(tmp_path, listener):
    port, accepted = listener
    result, _ = attack(tmp_path, step5=CONNECT.format(port=port), limits=replace(FAST, network=True))
    assert "NETWORK: connected" in result.summary_text


def test_os_exit_is_a_dead_kernel(tmp_path):
    result, seconds = attack(tmp_path, "import os\nos._exit(1)")
    assert (result.status, scores(result)) == ("kernel_died", KEPT)
    assert seconds < 20


def test_segfault_through_ctypes_is_a_dead_kernel(tmp_path):
    result, _ = attack(tmp_path, "import ctypes\nctypes.string_at(0)", warm=None)  # cold: bwrap's exit code
    assert (result.status, scores(result)) == ("kernel_died", KEPT)
    assert "SIGSEGV" in result.notes[0]


def test_sys_exit_is_just_an_error(tmp_path):
    result, _ = attack(tmp_path, "import sys\nsys.exit(1)")
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert result.errors[0].ename == "SystemExit"


def test_input_does_not_wait_for_stdin(tmp_path):
    result, seconds = attack(tmp_path, "name = input('your name? ')\n" + DENSE)
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert result.errors[0].ename == "StdinNotImplementedError"
    assert seconds < 20


def test_matplotlib_windows_do_not_block(tmp_path):
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.figure()\n" + DENSE
    result, seconds = attack(tmp_path, plot)
    assert (result.status, result.score) == ("graded", 100)
    assert seconds < 20


def test_deleting_the_model_keeps_what_was_graded(tmp_path):
    result, _ = attack(tmp_path, DENSE + "\ndel model")
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert len(result.layers) == 3  # the last model the notebook had


def test_shadowing_the_names_a_probe_might_use(tmp_path):
    shadow = ("\n__import__ = None\njson = None\nget_ipython = None\nProbe = None\nsnapshot = None\n"
              "JsonText = None\nlen = None\nisinstance = None\nvars = None\nid = None\ntype = None")
    result, _ = attack(tmp_path, step1_extra=shadow)
    assert (result.status, result.score) == ("graded", 100)


def test_fake_summary_text_does_not_pass(tmp_path):
    fake = 'print("Model: \\"sequential\\"\\nTotal params: 583,110\\nTrainable params: 583,110")'
    result, _ = attack(tmp_path, step5=fake)
    assert scores(result) == [20, 20, 20, 20, 0]


def test_patched_summary_that_prints_a_fake_does_not_pass(tmp_path):
    patch = ("keras.Model.summary = lambda self, *args, **kwargs: print('Total params: 583,110')\n"
             "model.summary()")
    result, _ = attack(tmp_path, step5=patch)
    assert scores(result) == [20, 20, 20, 20, 0]


def test_patched_units_property_does_not_hide_a_wrong_layer(tmp_path):
    first = (IMPORTS + "LSTM.units = property(lambda self: 50)\n"
             "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(64, return_sequences=True))")
    sources = [first, *KERAS3[1:]]
    result = grade_module.grade_notebook(write_notebook(tmp_path, sources), GradeOptions(lang="en", limits=FAST))
    assert result.steps[0].score == 0
    assert {c.name: c.actual for c in result.steps[0].checks if not c.passed}["units"] == 64
