"""Grade a whole class: every submission in parallel, each in its own kernel, into a gradebook
that survives crashes, with each student's report and the class's CSV and dashboard.

The unit of work is `grade_job`: a notebook's bytes and the options in, the JSON result out. The
local pool runs it in worker processes; only this process writes the gradebook and the outputs.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from grader import __version__
from grader.cluster import dask_executor, killed_worker
from grader.dashboard import write_dashboard
from grader.grade import grade_notebook, unreadable_result
from grader.gradebook import Entry, Gradebook, sha256
from grader.messages import text
from grader.notebook import UnreadableNotebook, read_notebook, referenced_files
from grader.report_csv import write_grades_csv
from grader.report_html import write_html
from grader.results import GradeResult
from grader.sandbox import Limits, remove_stale_cgroups
from grader.spec import DEFAULT_EXERCISE, load_spec
from grader.submissions import Submission, find_submissions
from grader.warm import Warm, WarmUnavailable, ensure_server, stop_servers

FAILED_STATUSES = ("unreadable", "error")


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one submission; plain data, so it can travel."""

    file: str
    content: bytes
    attachments: dict[str, bytes] = field(default_factory=dict)  # files the notebook names
    exercise: str = DEFAULT_EXERCISE
    keras: str = "auto"
    limits: Limits = Limits()
    lang: str = "auto"
    warm: Warm | None = None  # where this batch's warm parents are; None for cold kernels
    warm_per_worker: bool = False  # on a cluster: each worker process keeps warm parents of its own


@dataclass
class BatchSummary:
    total: int = 0
    graded: int = 0
    failed: int = 0  # could not be graded: unreadable, or the grader failed
    skipped: int = 0  # unchanged since the gradebook last graded them
    seconds: float = 0.0


_worker_warm: Warm | None = None


def _warm_of_this_process() -> Warm:
    """Warm parents owned by this worker process, made on its first job and ended with it."""
    global _worker_warm
    if _worker_warm is None:
        _worker_warm = Warm(Path(tempfile.mkdtemp(prefix="lstm-grader-warm-")), os.getpid())
    return _worker_warm


def grade_job(job: Job) -> dict:
    """Grade one submission from its bytes; never raises for a bad notebook."""
    started = time.monotonic()
    warm = _warm_of_this_process() if job.warm_per_worker else job.warm
    with tempfile.TemporaryDirectory(prefix="lstm-grader-job-") as folder:
        path = Path(folder) / Path(job.file).name
        path.write_bytes(job.content)
        for name, data in job.attachments.items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_bytes(data)
        try:
            result = grade_notebook(path, exercise=job.exercise, keras=job.keras, limits=job.limits,
                                    lang=job.lang, warm=warm)
        except UnreadableNotebook as error:
            lang = "en" if job.lang == "auto" else job.lang
            result = unreadable_result(job.file, error.reason(lang).replace(str(path), job.file),
                                       exercise=job.exercise, lang=lang)
    result.notebook = job.file
    result.seconds = round(time.monotonic() - started, 2)
    return result.to_dict()


def grade_batch(paths: list[str], out: Path, *, exercise: str = DEFAULT_EXERCISE, keras: str = "auto",
                limits: Limits = Limits(), lang: str = "auto", jobs: int | None = None, force: bool = False,
                id_pattern: str | None = None, console: Console | None = None, cold: bool = False,
                scheduler: str | None = None) -> BatchSummary:
    """Grade every submission under `paths` into `out`. Raises SubmissionError for a bad path."""
    started = time.monotonic()
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_cgroups()
    submissions = find_submissions(paths, unpack_dir=out / ".unpacked", id_pattern=id_pattern)
    spec = load_spec(exercise)
    spec_hash = sha256(spec.path.read_bytes())
    names = output_names(submissions)
    book = Gradebook(out / "gradebook.sqlite")
    summary = BatchSummary(total=len(submissions))
    on_cluster = scheduler is not None
    warm = None if cold or on_cluster else Warm(Path(tempfile.mkdtemp(prefix="lstm-grader-warm-")), os.getpid())
    if warm is not None:  # most answers are Keras 3: warm its parent up while the workers start
        threading.Thread(target=_start_quietly, args=(warm, 3), daemon=True).start()
    try:
        todo = []
        for submission in submissions:
            content = submission.path.read_bytes()
            if not force and book.is_current(submission.file, sha256(content), spec_hash):
                summary.skipped += 1
            else:
                todo.append(Job(submission.file, content, _attachments(submission), str(exercise), keras,
                                limits, lang, warm, warm_per_worker=on_cluster and not cold))
        by_file = {submission.file: submission for submission in submissions}
        shown = "en" if lang == "auto" else lang  # the terminal's language; reports follow each notebook
        for job, result in _run_pool(todo, jobs or os.cpu_count() or 1, console, shown, scheduler):
            submission = by_file[job.file]
            book.record(Entry(job.file, submission.id, submission.duplicate, sha256(job.content), spec_hash,
                              __version__, result, result["seconds"]))
            write_student_outputs(result, out, names[job.file])
            if result["status"] in FAILED_STATUSES:
                summary.failed += 1
            else:
                summary.graded += 1
        write_class_outputs(book.results([s.file for s in submissions]), out, names, lang)
    finally:
        book.close()
        if warm is not None:
            stop_servers(warm.run_dir)
            shutil.rmtree(warm.run_dir, ignore_errors=True)
    summary.seconds = round(time.monotonic() - started, 1)
    return summary


def _start_quietly(warm: Warm, keras_major: int) -> None:
    try:
        ensure_server(warm.run_dir, keras_major, warm.owner)
    except WarmUnavailable:
        pass  # the workers will find out, and fall back to cold kernels


def _attachments(submission: Submission) -> dict[str, bytes]:
    try:
        nb = read_notebook(submission.path)
    except UnreadableNotebook:
        return {}
    return {name: source.read_bytes() for source, name in referenced_files(nb, submission.path.parent)}


def _run_pool(todo: list[Job], workers: int, console: Console, lang: str, scheduler: str | None = None):
    """Yield (job, result) as workers finish, showing progress; a failed worker is a failed result."""
    if not todo:
        return
    with _progress(console, len(todo), lang) as advance, _executor(min(workers, len(todo)), scheduler) as (
            submit, as_completed):
        futures = {submit(grade_job, job): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as error:  # a crash of ours, or of a worker, costs this submission only
                result = _error_result(job, error)
            advance(job, result)
            yield job, result


@contextmanager
def _executor(workers: int, scheduler: str | None):
    """(submit, as_completed): local worker processes, or a Dask cluster."""
    if scheduler is not None:
        with dask_executor(scheduler) as executor:
            yield executor
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield pool.submit, as_completed


def _error_result(job: Job, error: Exception) -> dict:
    lang = "en" if job.lang == "auto" else job.lang
    reason = (text("batch.killed_worker", lang) if killed_worker(error)
              else text("cli.internal_error", lang, error=f"{type(error).__name__}: {error}"))
    result = unreadable_result(job.file, reason, exercise=job.exercise, lang=lang)
    result.status = "error"
    return result.to_dict()


class _progress:
    """A live bar with count, rate and time left on a terminal; plain lines elsewhere."""

    def __init__(self, console: Console, total: int, lang: str) -> None:
        self.console, self.total, self.lang, self.done = console, total, lang, 0
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console) \
            if console.is_terminal else None
        self.started = time.monotonic()

    def __enter__(self):
        if self.bar:
            self.bar.start()
            self.task = self.bar.add_task(text("batch.grading", self.lang), total=self.total, rate="")
        return self.advance

    def __exit__(self, *exc_info) -> None:
        if self.bar:
            self.bar.stop()

    def advance(self, job: Job, result: dict) -> None:
        self.done += 1
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        if self.bar:
            self.bar.update(self.task, advance=1, rate=text("batch.rate", self.lang, rate=f"{rate:.2f}"))
        else:
            self.console.print(text("batch.line", self.lang, done=self.done, total=self.total, file=job.file,
                                    score=result["score"], max_score=result["max_score"],
                                    status=result["status"], seconds=result["seconds"]),
                               soft_wrap=True, markup=False, highlight=False)


def output_names(submissions: list[Submission]) -> dict[str, str]:
    """A safe file name for each submission's outputs: its student id, made unique."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for submission in submissions:
        base = _slug(submission.id)
        name = base if base not in used else _slug(f"{submission.id}-{Path(submission.file).stem}")
        number = 2
        while name in used:
            name, number = f"{base}-{number}", number + 1
        used.add(name)
        names[submission.file] = name
    return names


def _slug(value: str) -> str:
    slug = re.sub(r"[^\w.-]+", "_", value, flags=re.UNICODE).strip("._") or "submission"
    return slug[:100]


def write_student_outputs(result: dict, out: Path, name: str) -> None:
    (out / "results").mkdir(exist_ok=True)
    (out / "reports").mkdir(exist_ok=True)
    grade = GradeResult.from_dict(result)
    (out / "results" / f"{name}.json").write_text(grade.to_json() + "\n", encoding="utf-8")
    write_html(grade, out / "reports" / f"{name}.html")


def write_class_outputs(rows: list[tuple[str, str, bool, dict]], out: Path, names: dict[str, str],
                        lang: str) -> None:
    write_grades_csv(rows, out / "grades.csv")
    write_dashboard(rows, out / "index.html", names, lang)

