"""The speed benchmark: `make bench`. Everything measured in one run, on one generated class.

Rows: nbclient's own `jupyter execute` of one notebook (the floor a user knows), `grade` of one
notebook with a cold kernel, and a batch of the class with cold and warm kernels at -j 1 and -j 2.
Columns: wall time, seconds per submission, peak memory (RSS summed over the whole process tree,
sampled every 50 ms) and how many times faster than `jupyter execute` per notebook.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.class_corpus import KINDS  # noqa: E402
from tests.notebooks import write_notebook  # noqa: E402

BIN = Path(sys.executable).parent


def measure(command: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS of the process tree in bytes, and the exit code."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(_rss(member) for member in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    return time.monotonic() - started, peak[0], code


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def make_class(folder: Path, size: int) -> None:
    """The reference answer and the typical wrong answers, in turn."""
    kinds = list(KINDS)
    for number in range(size):
        sources, _ = KINDS[kinds[number % len(kinds)]]
        (folder / f"student{number:03d}").mkdir(parents=True)
        write_notebook(folder / f"student{number:03d}", sources, name="lab.ipynb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=50, help="submissions in the class (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each one-notebook row (default 5)")
    parser.add_argument("--warm-only", action="store_true",
                        help="only `jupyter execute` (the floor) and the warm batch rows: a minute instead of seven")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lstm-grader-bench-"))
    try:
        make_class(work / "class", args.size)
        one = work / "class" / "student000" / "lab.ipynb"  # the reference answer, Keras 3
        rows = []
        execute = [measure([str(BIN / "jupyter"), "execute", "--allow-errors", str(one)]) for _ in range(args.repeat)]
        floor = statistics.median(run[0] for run in execute)
        rows.append(("jupyter execute, 1 notebook", execute, 1))
        if not args.warm_only:
            rows.append(("grade, 1 notebook (cold)",
                         [measure([str(BIN / "grade"), str(one), "--no-report"]) for _ in range(args.repeat)], 1))
        batches = ((False, 1), (False, 2)) if args.warm_only else ((True, 1), (True, 2), (False, 1), (False, 2))
        for cold, jobs in batches:
            out = work / f"out-{'cold' if cold else 'warm'}-{jobs}"
            command = [str(BIN / "grade"), str(work / "class"), "-o", str(out), "-j", str(jobs)]
            rows.append((f"batch of {args.size}, {'cold' if cold else 'warm'} kernels, -j {jobs}",
                         [measure(command + (["--cold"] if cold else []))], args.size))
        print(f"\n{'':44} {'wall s':>8} {'s/submission':>13} {'peak RSS':>10} {'x faster':>9}")
        for name, runs, count in rows:
            wall = statistics.median(run[0] for run in runs)
            peak = max(run[1] for run in runs)
            per = wall / count
            print(f"{name:44} {wall:8.1f} {per:13.2f} {peak / 2**30:8.2f} GiB {floor / per:9.1f}")
        print(f"\n(one-notebook rows: median of {args.repeat} runs; exit codes "
              f"{sorted({run[2] for _, runs, _ in rows for run in runs})})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
