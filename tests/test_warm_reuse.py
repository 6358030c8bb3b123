"""Nothing one student leaves in a warm jail reaches the next student that jail's parent forks.

A warm parent forks one kernel after another in the same jail. Each attacker below is a right
answer whose step 4 first tries to leave something for the kernels after it, where a later kernel
would run it: an IPython startup file, a module beside the grader's own kernel-side modules (the
shipped notebooks' first cell runs `%load_ext grader`), a module that shadows a library a
classmate imports, memory parked in a file system without a size of its own. What it plants
installs an input transformer that fills in the untouched template and spoils an honest answer's
last LSTM layer. Step 4 adds `Dense(10)` when the jail refused what the attack could check from
inside, `Dense(11)` when not. The class is graded in one warm batch at `-j 1`, so one warm parent
forks every kernel, the attackers first (submissions are graded in name order), as root and as
the ordinary user; the victims after them must come out exactly as if graded alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.class_run import TESTER, grade_class_as
from tests.leftovers import assert_no_jail_left
from tests.notebooks import KERAS2, KERAS3, replace, write_notebook

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE_CELLS = ["<None>", "model.add(<None>)", "<None>", "model.add(<None>)\nmodel.add(<None>)", "model.<None>()"]
ANSWERS = ["model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(50, return_sequences=True))",
           "model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300))",
           "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"]

# What the attackers plant: it fills in the template's cells and spoils an honest LSTM(300).
PAYLOAD = f"""
from IPython import get_ipython as _get_ipython
_answers = {dict(zip(TEMPLATE_CELLS, ANSWERS))!r}
def _poison(lines):
    text = "".join(lines)
    for blank, answer in _answers.items():
        text = text.replace(blank, answer)
    return text.replace("LSTM(300", "LSTM(301").splitlines(keepends=True)
if _get_ipython() is not None:
    _get_ipython().input_transformers_cleanup.append(_poison)
"""

PLANT = f"""
import errno, os, sys
PAYLOAD = {PAYLOAD!r}
def plant(path, text=PAYLOAD):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as out:
            out.write(text)
        return True
    except OSError as error:
        assert error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT), error
        return False
own = os.getcwd()
parent_folder = os.path.dirname(own)          # the warm jail's folder of kernels
jail_folder = os.path.dirname(parent_folder)  # the warm parent's own folder (its HOME)
"""

def attack_sources(code: str) -> list[str]:
    return [*KERAS3[:3], code + "\nmodel.add(Dense(100))\nmodel.add(Dense(10 if blocked else 11))", "model.summary()"]


ATTACKS = {
    # IPython's startup files: under this kernel's HOME (its own folder, gone with it), and under
    # the warm parent's HOME and folders, where a later kernel's IPython would look
    "a1_startup": PLANT + """
startup = '.ipython/profile_default/startup/00-poison.py'
plant(os.path.join(os.environ['HOME'], startup))
blocked = not any(plant(os.path.join(folder, startup)) for folder in (jail_folder, '/', '/opt/lstm-grader'))
""",
    # the grader's kernel-side package in the jail: the module `%load_ext grader` imports, and
    # the interpreter's own startup hooks on its path
    "a2_grader_module": PLANT + """
targets = ['/opt/lstm-grader/grader/magic.py', '/opt/lstm-grader/grader/__init__.py',
           '/opt/lstm-grader/sitecustomize.py', '/opt/lstm-grader/usercustomize.py']
blocked = not any(plant(target) for target in targets)
""",
    # a module named like a library a classmate imports, in every folder of the import path and
    # every folder a later kernel starts from
    "a3_shadow": PLANT + """
# folders bwrap made in /tmp on the way to what it mounts there (a venv or checkout under /tmp)
on_the_way = {os.path.dirname(line.split()[4]) for line in open('/proc/self/mountinfo')
              if line.split()[4].startswith('/tmp/')} - {'/tmp'}
folders = {os.path.abspath(entry or own) for entry in sys.path} | {parent_folder, jail_folder, '/', '/tmp'} | on_the_way
planted = {folder for folder in folders if plant(os.path.join(folder, 'pandas.py'))}
blocked = planted <= {own, parent_folder, '/tmp'} | on_the_way  # its own folder, and those emptied after it
""",
    # memory parked where no size bounds it, for the kernels after this one
    "a4_park_memory": PLANT + """
chunk = b'0' * (64 * 2**20)
blocked = not any(plant(os.path.join(folder, 'parked'), chunk.decode())
                  for folder in ('/', '/dev', '/opt', jail_folder))
""",
    # memory parked in System V shared memory, which outlives its process
    "a5_sysv_memory": PLANT + """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget(0, 64 * 2**20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
if segment >= 0:
    ctypes.memset(libc.shmat(segment, None, 0), 1, 64 * 2**20)
blocked = True  # whether it outlives this kernel, the student after it says
""",
}

# What the student after the attackers finds of them: nothing in the jail's shared places, no other
# process, no System V object, no other kernel's folder.
FINDS_NOTHING = """
import os
others = [pid for pid in os.listdir('/proc') if pid.isdigit() and int(pid) not in (1, os.getpid(), os.getppid())]
ipc = [row for kind in ('shm', 'msg', 'sem') for row in open(f'/proc/sysvipc/{kind}').read().splitlines()[1:]]
kernels = os.listdir(os.path.dirname(os.getcwd()))
mounts = {line.split()[4] for line in open('/proc/self/mountinfo')}  # the jail's own folder, a venv under /tmp
def leftovers(folder):
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if path not in mounts:
            yield from leftovers(path) if any(m.startswith(path + '/') for m in mounts) else [path]
blocked = (not list(leftovers('/tmp')) and not os.listdir('/dev/shm') and not ipc and not others
           and kernels == [os.path.basename(os.getcwd())])
"""

# Graded after every attacker, by the same warm parents.
VICTIMS = {
    "b_template": None,  # the untouched template: 0, never tampered
    "c_honest_pandas": replace(KERAS3, 1, "import pandas as pd\n" + KERAS3[0]),
    "d_honest3": KERAS3,
    "e_honest2": KERAS2,
    "f_finds_nothing": attack_sources(FINDS_NOTHING),
}
EXPECTED = {name: ("graded", 100) for name in ATTACKS} | {
    "b_template": ("graded", 0), "c_honest_pandas": ("graded", 100), "d_honest3": ("graded", 100),
    "e_honest2": ("graded", 100), "f_finds_nothing": ("graded", 100)}


def make_class(folder: Path, out: Path) -> Path:
    class_dir = folder / "class"
    for name, code in ATTACKS.items():
        (class_dir / name).mkdir(parents=True)
        write_notebook(class_dir / name, attack_sources(code), name=f"{name}.ipynb")
    for name, sources in VICTIMS.items():
        (class_dir / name).mkdir(parents=True)
        if sources is None:
            shutil.copy(ROOT / "exercises" / "lstm_network" / "lstm_network.en.ipynb", class_dir / name / f"{name}.ipynb")
        else:
            write_notebook(class_dir / name, sources, name=f"{name}.ipynb")
    return class_dir


def grade_class(user: str | None) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """Grade the class warm at -j 1 (one warm parent for all), as `user` (None: as root)."""
    return grade_class_as(user, make_class, jobs=1, cell_seconds=60)


@pytest.fixture(scope="module", params=["root", "ordinary user"])
def graded(request):
    assert os.geteuid() == 0, "the tests run as root, and as the ordinary user through runuser"
    yield grade_class(None if request.param == "root" else TESTER)
    assert_no_jail_left()


@pytest.mark.parametrize("attack", ATTACKS)
def test_what_an_attacker_leaves_is_refused(graded, attack):
    run, results = graded
    assert run.returncode == 0, run.stderr
    result = results[attack]
    assert (result["status"], result["score"]) == EXPECTED[attack], [step["reason"] for step in result["steps"]]


@pytest.mark.parametrize("victim", VICTIMS)
def test_the_students_after_the_attackers_are_graded_as_alone(graded, victim):
    run, results = graded
    result = results[victim]
    assert (result["status"], result["score"]) == EXPECTED[victim], [step["reason"] for step in result["steps"]]
    if victim != "b_template":
        assert [layer["units"] for layer in result["layers"]] == [50, 100, 300, 100, 10]


def test_one_warm_parent_forked_every_kernel(graded):
    """The attack needs the victims forked by the attackers' parent: one worker, warm, no fallback."""
    run, results = graded
    assert len(results) == len(ATTACKS) + len(VICTIMS)
    assert "cold kernels" not in run.stderr and "冷" not in run.stderr
