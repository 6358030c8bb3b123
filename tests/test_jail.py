"""Attacks on the jail, from inside a student's kernel, as root and as an ordinary user.

Each attack notebook is the right answer whose step 4 first runs an attack and sets `blocked`,
then adds `Dense(10)` when the attack was refused the way the jail refuses it, `Dense(11)` when it
was not: an attack that fails scores 100, one that works (or breaks) costs step 4. Every class is
graded in one warm batch, as root and as the ordinary user `lstm-grader-tester` made by
`make install`, beside honest classmates whose scores must not move; the host is checked after.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import nbformat
import pytest

from grader.kernel.sandbox import KERNEL_USER, Limits, jail_command, jail_environment, launcher_environment, open_jail, \
    close_jail
from grader.kernel.warm import start_seconds
from grader.messages import text
from tests.class_run import TESTER, grade_class_as
from tests.leftovers import assert_no_jail_left, jail_token, warm_jails
from tests.notebooks import KERAS2, KERAS3, write_notebook
from tests.test_forgery import FAKE_LAYERS, FAKE_MODEL, FORGED_CHANNEL, HUGE_NAME, STEPS_ON_FAKES, SUMMARY_ON_A_FAKE
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sekrit-value-4b1d"
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")

REFUSED = """
import errno, os, signal, stat, sys, ctypes
def refused(action):
    try:
        action()
        return False
    except OSError as error:
        return error.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EROFS)
libc = ctypes.CDLL(None, use_errno=True)
def visible_files():
    skip = {'/proc', '/sys', '/dev', '/usr', sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix),
            os.path.realpath(sys.prefix)}
    for top, folders, files in os.walk('/'):
        folders[:] = [f for f in folders if os.path.join(top, f) not in skip and f != 'site-packages']
        yield from (os.path.join(top, f) for f in files)
"""

ATTACKS = {
    # the warm parent's pipes, memory and fds; ptrace; any socket but the kernel's own
    "warm_parent": REFUSED + """
parent = os.getppid()
pipes_closed = parent == 1 or (refused(lambda: os.listdir(f'/proc/{parent}/fd'))
    and all(refused(lambda fd=fd: open(f'/proc/{parent}/fd/{fd}', 'wb')) for fd in range(8))
    and refused(lambda: open(f'/proc/{parent}/mem', 'rb').read(1)))
ptrace_refused = libc.ptrace(16, parent, 0, 0) != 0 and ctypes.get_errno() == errno.EPERM
sockets = [p for p in visible_files() if not p.startswith(os.getcwd()) and stat.S_ISSOCK(os.lstat(p).st_mode)]
blocked = pipes_closed and ptrace_refused and sockets == []
""",
    # uid 0 tricks: core_pattern, sysrq, /sys, nested namespaces, mounts
    "root_escape": REFUSED + """
blocked = (refused(lambda: open('/proc/sys/kernel/core_pattern', 'w').write('|/tmp/x'))
    and refused(lambda: open('/proc/sysrq-trigger', 'w').write('h'))
    and not os.path.exists('/sys') and libc.unshare(0x10000000) != 0 and libc.unshare(0x20000) != 0
    and libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) != 0 and os.getuid() == 1000)
""",
    # the host's files: shadow, home folders, the grader's source and the class folder
    "host_files": REFUSED + """
blocked = not any(os.path.exists(p) for p in ['/etc/shadow', '/etc/passwd', '/home', '/root/.bashrc', CLASS_DIR,
    OUT_DIR, SOURCE]) and not any(p.endswith(('.ipynb', '.sqlite', '.csv')) for p in visible_files())
""",
    # classmates: their kernels' processes, connection files and sockets
    "classmates": REFUSED + """
pids = {int(p) for p in os.listdir('/proc') if p.isdigit()}
import glob
connections = glob.glob('/tmp/**/connection.json', recursive=True)
blocked = pids <= {1, os.getpid(), os.getppid()} and connections == [os.path.join(os.getcwd(), 'connection.json')]
""",
    # the grader's environment (API tokens), through any environ block the kernel can read
    "secrets": REFUSED + """
found = SECRET in str(os.environ)
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        found = found or SECRET.encode() in open(f'/proc/{pid}/environ', 'rb').read()
    except OSError:
        pass
blocked = not found
""".replace("SECRET", repr(SECRET)),
    # signals at everything it can name: the grader must not be among them
    "signals": REFUSED + """
import time
for pid in [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:
    for number in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, number)
        except OSError:
            pass
time.sleep(5)  # a warm kernel's jail ends with its parent: within this cell, not the next
blocked = True
""",
    # leftovers: a daemon, a full /dev/shm and /tmp, a way out of the cgroup
    "leftovers": REFUSED + """
import subprocess
subprocess.Popen(['sleep', '1000'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execv('/bin/sleep', ['sleep', '999'])
def fill(folder):
    try:
        for number in range(40):
            with open(f'{folder}/fill-{number}', 'wb') as out:
                out.write(b'0' * (16 * 2**20))
        return False
    except OSError as error:
        return error.errno == errno.ENOSPC
blocked = fill('/dev/shm') and fill('/tmp') and refused(lambda: open('/sys/fs/cgroup/pids/cgroup.procs', 'w'))
""",
    # a fork hog: every process it may have, held while the other worker grades classmates (without
    # root, the bound is the jail's own: it takes nothing from a classmate run by the same user)
    "fork_hog": REFUSED + """
import subprocess
HOG = '''
import errno, os, signal, time
children, code = [], 0
try:
    while len(children) < 100000:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as error:
    code = error.errno
time.sleep(8)
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print(len(children), code)
'''
held, code = subprocess.run([sys.executable, '-c', HOG], capture_output=True, text=True).stdout.split()
blocked = int(code) == errno.EAGAIN and int(held) < 256
""",
    # seccomp: kernel interfaces a notebook has no use for (x86_64 numbers: keyctl, bpf, perf_event_open)
    "seccomp": REFUSED + """
def denied(number, *args):
    return libc.syscall(number, *args) == -1 and ctypes.get_errno() == errno.EPERM
blocked = denied(250, 0, 0) and denied(321, 0, 0, 0) and denied(298, 0, 0, -1, -1, 0)
""",
}
HONEST = {"honest3": KERAS3, "honest2": KERAS2}
# Forged verdicts (tests/test_forgery.py has each alone, with its details): no Keras model at all,
# a replaced probe channel with an input transformer on the untouched template, a 50 MB layer name.
FORGERIES = {
    "fake_keras": ["from tensorflow import keras\n" + FAKE_LAYERS + FAKE_MODEL
                   + "model = Sequential()\nmodel.add(LSTM(50, return_sequences=True))", *STEPS_ON_FAKES,
                   SUMMARY_ON_A_FAKE],
    "huge_name": [*KERAS3[:4], KERAS3[4] + f"\nmodel.layers[0].name = 'x' * {HUGE_NAME}"],
}


def attack_sources(code: str) -> list[str]:
    return [*KERAS3[:3], code + "\nmodel.add(Dense(100))\nmodel.add(Dense(10 if blocked else 11))", "model.summary()"]


def make_class(folder: Path, out: Path) -> Path:
    class_dir = folder / "class"
    for name, code in ATTACKS.items():
        (class_dir / name).mkdir(parents=True)
        for name_, value in [("CLASS_DIR", class_dir), ("OUT_DIR", out), ("SOURCE", ROOT / "grader" / "grade.py")]:
            code = code.replace(name_, repr(str(value)))
        write_notebook(class_dir / name, attack_sources(code), name=f"{name}.ipynb")
    for name, sources in {**HONEST, **FORGERIES}.items():
        (class_dir / name).mkdir(parents=True)
        write_notebook(class_dir / name, sources, name=f"{name}.ipynb")
    template = nbformat.read(ROOT / "exercises" / "lstm_network" / "lstm_network.en.ipynb", as_version=4)
    template.cells.insert(0, nbformat.v4.new_code_cell(FORGED_CHANNEL))
    (class_dir / "forged_channel").mkdir()
    nbformat.write(template, class_dir / "forged_channel" / "forged_channel.ipynb")
    return class_dir


def grade_class(user: str | None) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """Grade the attack class warm at -j 2, as `user` (None: as this process, root)."""
    return grade_class_as(user, make_class, jobs=2, cell_seconds=30,
                          env={"GITHUB_TOKEN": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET})


@pytest.fixture(scope="module", params=["root", "ordinary user"])
def graded(request):
    assert os.geteuid() == 0, "the tests run as root, and as the ordinary user through runuser"
    core_pattern = CORE_PATTERN.read_text()
    shm_before = {name for name in os.listdir("/dev/shm") if not name.startswith("sem.mp-")}
    run, results = grade_class(None if request.param == "root" else TESTER)
    yield run, results
    assert CORE_PATTERN.read_text() == core_pattern
    assert {name for name in os.listdir("/dev/shm") if not name.startswith("sem.mp-")} <= shm_before  # ours: a
    # pool's semaphores, unlinked at once
    assert_no_jail_left()


# Killing its own warm parent ends the jail, and the attacker's kernel with it: its loss only.
EXPECTED = {attack: ("graded", 100) for attack in ATTACKS} | {"signals": ("kernel_died", 60)}


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_refused(graded, attack):
    run, results = graded
    assert run.returncode == 0, run.stderr
    result = results[attack]
    assert (result["status"], result["score"]) == EXPECTED[attack], [s["reason"] for s in result["steps"]]


@pytest.mark.parametrize("forgery, score", [("fake_keras", 0), ("forged_channel", 0), ("huge_name", 100)])
def test_forged_verdicts_score_what_the_real_model_earns(graded, forgery, score):
    run, results = graded
    assert results[forgery]["score"] == score
    assert len(json.dumps(results[forgery])) < 200 * 2**10  # the huge name stays small


def test_the_batch_stays_warm(graded):
    """However loaded the machine, the batch waits for its warm parents' start instead of falling
    back to cold kernels: the `signals` attack's loss (EXPECTED) is a warm kernel's."""
    run, _ = graded
    said = text("cli.warm_off", "en", reason="\0").split("\0")[0]  # whatever the reason
    assert said not in run.stderr


def test_honest_classmates_keep_their_scores(graded):
    run, results = graded
    assert {name: (results[name]["status"], results[name]["score"]) for name in HONEST} == {
        "honest3": ("graded", 100), "honest2": ("graded", 100)}
    assert len(results) == len(ATTACKS) + len(HONEST) + len(FORGERIES) + 1


def test_jail_runs_as_a_user_that_owns_nothing():
    """As root, the jail's processes are the kernel user's on the host, in namespaces of their own."""
    jail = open_jail(Limits())
    try:
        process = subprocess.Popen(jail_command(jail, ["/bin/sleep", "30"], jail_environment(jail, {})),
                                   env=launcher_environment())
        def started() -> list[int] | None:
            return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and jail_token(int(pid)) == jail.token
                    and _cmdline(int(pid)) == "/bin/sleep 30"] or None

        inside = wait_for(started, start_seconds(jail.limits), "the jailed sleep", process)
        assert len(inside) == 1
        status = Path(f"/proc/{inside[0]}/status").read_text()
        kernel = pwd.getpwnam(KERNEL_USER)
        assert f"Uid:\t{kernel.pw_uid}\t{kernel.pw_uid}" in status
        assert "CapEff:\t0000000000000000" in status and "Seccomp:\t2" in status
        for namespace in ("user", "pid", "mnt", "net", "ipc", "uts"):
            assert os.readlink(f"/proc/{inside[0]}/ns/{namespace}") != os.readlink(f"/proc/self/ns/{namespace}")
        process.kill()
        process.wait()
    finally:
        close_jail(jail)
    assert_no_jail_left({os.getpid()}, timeout=2, keep=warm_jails())


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
