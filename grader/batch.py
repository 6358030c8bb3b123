"""Grade a whole class: every submission in parallel, each in its own kernel, into a gradebook
that survives crashes, with each student's report and the class's CSV and dashboard.

The unit of work is `grade_job`: a notebook's bytes and the options in, the JSON result out. The
local pool runs it in worker processes; only this process writes the gradebook and the outputs.
One run at a time per OUT (a lock in OUT). A submission that cannot be read is recorded as
`unreadable` here, without a worker or a kernel; the others' bytes are read only as they are
handed to the pool, so memory holds the jobs in flight, not the class.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

from nbformat import NotebookNode
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
from grader.messages import CatalogueError, escape_controls, status_label, text
from grader.notebook import (OUT_LOCK, MiB, UnreadableNotebook, parse_notebook, read_notebook_bytes,
                             referenced_files)
from grader.report_csv import write_grades_csv
from grader.report_html import write_html
from grader.results import ClassRow, GradeResult
from grader.review import FinalRow, final_rows, review_queue
from grader.safe_write import ensure_folder, remove_stale_temporaries, write_text
from grader.kernel import Limits, remove_leftovers, start_warming
from grader.lms import read_class
from grader.lms.store import LmsEntry, read_identities, record_identities
from grader.options import BatchOptions, GradeOptions
from grader.spec import load_spec
from grader.submissions import Submission, find_submissions, unpacking

FAILED_STATUSES = ("unreadable", "error")
LOCK_FILE = OUT_LOCK
UNPACK_FOLDER = ".unpacked"
IN_FLIGHT_JOBS = 256  # at most this many jobs, and this many bytes of them, are handed to the pool at once
IN_FLIGHT_BYTES = 256 * MiB
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one submission; plain data, so it can travel."""

    file: str
    content: bytes
    attachments: dict[str, bytes] = field(default_factory=dict)  # files the notebook names
    options: GradeOptions = GradeOptions()


class Done(NamedTuple):
    """One submission's outcome: its name, the SHA-256 of the bytes graded, the result, and what its
    worker had to say about its machine ((key, text) pairs: the warnings of grade_notebook)."""

    file: str
    content_hash: str
    result: GradeResult
    warnings: tuple[tuple[str, str], ...] = ()


Pending = tuple[Submission, list[tuple[Path, str]]]  # a submission to grade, with its data files


class OutputBusy(Exception):
    """Another run holds the lock of this OUT."""


@dataclass
class BatchSummary:
    total: int = 0
    graded: int = 0
    failed: int = 0  # could not be graded: unreadable, or the grader failed
    skipped: int = 0  # unchanged since the gradebook last graded them
    seconds: float = 0.0


def grade_job(job: Job) -> dict:
    """Grade one submission from its bytes; never raises for a bad notebook. The result travels
    back as plain data, and becomes a GradeResult again (capped as it is made) on arrival; so do
    the worker's warnings about its machine, said by the batch once per run, not by each worker."""
    started = time.monotonic()
    warnings: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix=f"lstm-grader-{os.getpid()}-job-") as folder:
        path = Path(folder) / Path(job.file).name
        path.write_bytes(job.content)
        for name, data in job.attachments.items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_bytes(data)
        try:
            result = grade_notebook(path, job.options, on_warning=lambda key, said: warnings.append((key, said)))
        except UnreadableNotebook as error:
            lang = job.options.shown_lang
            result = unreadable_result(job.file, error.reason(lang).replace(str(path), job.file),
                                       exercise=job.options.exercise, lang=lang)
    result.notebook = job.file
    result.seconds = round(time.monotonic() - started, 2)
    return {"result": result.to_dict(), "warnings": warnings}


def grade_batch(paths: list[str], out: Path, options: BatchOptions = BatchOptions(),
                console: Console | None = None) -> BatchSummary:
    """Grade every submission under `paths` into `out`. Raises SubmissionError for a bad path."""
    started = time.monotonic()
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    with one_run_at_a_time(out), unpacking(out / UNPACK_FOLDER) as unpack_dir:
        remove_leftovers()
        remove_stale_temporaries(out, out / "results", out / "reports")
        submissions = find_submissions(paths, unpack_dir=unpack_dir, id_pattern=options.id_pattern)
        lms = read_class(submissions, options.lms, paths) if options.lms is not None else None
        if lms is not None:  # the LMS's ids; a resubmitted file's earlier copies are not graded
            submissions = lms.submissions
            for file, later in lms.superseded.items():
                console.print(text("lms.superseded", options.grading.shown_lang, file=escape_controls(file),
                                   later=escape_controls(later)), soft_wrap=True, markup=False, highlight=False)
        spec = load_spec(options.grading.exercise)
        spec_hash = sha256(spec.path.read_bytes())
        names = output_names(submissions)
        book = Gradebook(out / "gradebook.sqlite")
        if lms is not None:
            record_identities(book, options.lms, submissions, lms.identities)
        summary = BatchSummary(total=len(submissions))
        template = Job("", b"", {}, options.grading)
        try:
            ready, todo, summary.skipped = _sort_out(submissions, book, spec_hash, options.force, template)
            by_file = {submission.file: submission for submission in submissions}
            # The terminal's language; reports follow each notebook's.
            with _progress(console, len(ready) + len(todo), options.grading.shown_lang) as advance:
                workers = options.jobs or os.cpu_count() or 1
                for done in chain(ready, _run_pool(todo, template, workers, options.scheduler)):
                    advance(done.file, done.result, done.warnings)
                    submission = by_file[done.file]
                    book.record(Entry(done.file, submission.id, submission.duplicate, done.content_hash, spec_hash,
                                      __version__, done.result))
                    write_student_outputs(done.result, out, names[done.file], final_rows(book, [done.file])[0])
                    if done.result.status in FAILED_STATUSES:
                        summary.failed += 1
                    else:
                        summary.graded += 1
            finals = final_rows(book, [s.file for s in submissions])
            queue = [item for item in review_queue(book) if item.file in by_file]
            write_class_outputs([final.row for final in finals], out, names, options.grading.lang,
                                {final.row.file: final for final in finals}, len(queue), read_identities(book))
        finally:
            book.close()
    summary.seconds = round(time.monotonic() - started, 1)
    return summary


@contextmanager
def one_run_at_a_time(out: Path) -> Iterator[None]:
    """Hold OUT's lock for the whole run; a second run on the same OUT raises OutputBusy before
    it touches anything. The lock goes with the process, however it ends (even kill -9)."""
    descriptor = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(out) from None
        yield
    finally:
        os.close(descriptor)


def _sort_out(submissions: list[Submission], book: Gradebook, spec_hash: str, force: bool,
              template: Job) -> tuple[list[Done], list[Pending], int]:
    """(unreadable ones, already recorded; ones to grade; how many are unchanged and skipped).
    Each notebook is read and parsed here, one at a time and within bounds, before any kernel."""
    ready: list[Done] = []
    todo: list[Pending] = []
    skipped = 0
    for submission in submissions:
        content = b""
        try:
            content = _content(submission)
            if not force and book.is_current(submission.file, sha256(content), spec_hash):
                skipped += 1
                continue
            nb = parse_notebook(content, submission.path)
        except CatalogueError as error:
            ready.append(_unreadable(submission, content, error, template))
            continue
        todo.append((submission, _data_files(nb, submission)))
    return ready, todo, skipped


def _content(submission: Submission) -> bytes:
    if submission.problem is not None:
        raise submission.problem
    return read_notebook_bytes(submission.path)


def _unreadable(submission: Submission, content: bytes, error: CatalogueError, template: Job) -> Done:
    lang = template.options.shown_lang
    result = unreadable_result(submission.file, error.reason(lang, shown=submission.file),
                               exercise=template.options.exercise, lang=lang)
    return Done(submission.file, sha256(content), result)


def _data_files(nb: NotebookNode, submission: Submission) -> list[tuple[Path, str]]:
    """The files its code names, from the student's own folder only (find_submissions knows whose a
    folder is): none for a notebook that shares its folder with classmates, and never a notebook."""
    return referenced_files(nb, submission.folder, owned=True) if submission.folder is not None else []


def _jobs(todo: list[Pending], template: Job) -> Iterator[Job | Done]:
    """Each submission's job, its bytes read only now; one that can no longer be read is Done."""
    for submission, files in todo:
        try:
            content = read_notebook_bytes(submission.path)
        except UnreadableNotebook as error:
            yield _unreadable(submission, b"", error, template)
            continue
        yield replace(template, file=submission.file, content=content, attachments=_read_files(files))


def _read_files(files: list[tuple[Path, str]]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for source, name in files:
        try:
            data[name] = source.read_bytes()
        except OSError:  # the notebook runs without it, as if it were missing
            pass
    return data


def _run_pool(todo: list[Pending], template: Job, workers: int, scheduler: str | None = None) -> Iterator[Done]:
    """Yield each submission's outcome as workers finish, with at most IN_FLIGHT_JOBS jobs and
    IN_FLIGHT_BYTES of them handed out at once; a failed worker is a failed result."""
    if not todo:
        return
    warm_limits = template.options.limits if template.options.warm else None
    with _executor(min(workers, len(todo)), scheduler, warm_limits) as (submit, as_completed):
        futures: dict = {}
        for job in _jobs(todo, template):
            if isinstance(job, Done):
                yield job
                continue
            futures[submit(grade_job, job)] = job
            while len(futures) >= IN_FLIGHT_JOBS or _bytes(futures.values()) > IN_FLIGHT_BYTES:
                yield _first_done(futures, as_completed)
        while futures:
            yield _first_done(futures, as_completed)


def _bytes(jobs) -> int:
    return sum(len(job.content) + sum(map(len, job.attachments.values())) for job in jobs)


def _first_done(futures: dict, as_completed) -> Done:
    future = next(iter(as_completed(list(futures))))
    job = futures.pop(future)
    warnings: tuple[tuple[str, str], ...] = ()
    try:
        done = future.result()
        result = GradeResult.from_dict(done["result"])
        warnings = tuple((str(key), str(said)) for key, said in done["warnings"])
    except Exception as error:  # a crash of ours, or of a worker, costs this submission only
        result = _error_result(job, error)
    return Done(job.file, sha256(job.content), result, warnings)


@contextmanager
def _executor(workers: int, scheduler: str | None, warm_limits: Limits | None):
    """(submit, as_completed): local worker processes, or a Dask cluster."""
    if scheduler is not None:
        with dask_executor(scheduler) as executor:
            yield executor
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_start_worker,
                             initargs=(warm_limits,)) as pool:
        yield pool.submit, as_completed


def _start_worker(warm_limits: Limits | None) -> None:
    """In each worker process: die with the batch, and warm the Keras 3 parent up (most answers
    are Keras 3) while the first job travels."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the batch died before this worker could ask to die with it
        os._exit(1)
    if warm_limits is not None:
        start_warming(warm_limits)


def _error_result(job: Job, error: Exception) -> GradeResult:
    lang = job.options.shown_lang
    reason = (text("batch.killed_worker", lang) if killed_worker(error)
              else text("cli.internal_error", lang, error=f"{type(error).__name__}: {error}"))
    result = unreadable_result(job.file, reason, exercise=job.options.exercise, lang=lang)
    result.status = "error"
    return result


class _progress:
    """A live bar with count, rate and time left on a terminal; plain lines elsewhere."""

    def __init__(self, console: Console, total: int, lang: str) -> None:
        self.console, self.total, self.lang, self.done = console, total, lang, 0
        self.said: set[str] = set()
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

    def advance(self, file: str, result: GradeResult, warnings: tuple[tuple[str, str], ...] = ()) -> None:
        for key, said in warnings:
            self.say_once(key, said)
        self.done += 1
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        if self.bar:
            self.bar.update(self.task, advance=1, rate=text("batch.rate", self.lang, rate=f"{rate:.2f}"))
        else:
            self.console.print(text("batch.line", self.lang, done=self.done, total=self.total,
                                    file=escape_controls(file),
                                    score=result.score, max_score=result.max_score,
                                    status=status_label(result.status, self.lang), seconds=result.seconds),
                               soft_wrap=True, markup=False, highlight=False)

    def say_once(self, key: str, said: str) -> None:
        """A worker's warning about its machine, once per run whichever workers said it: on its
        own line above the bar, or on stderr where there is none."""
        if key in self.said:
            return
        self.said.add(key)
        if self.bar:
            self.bar.console.print(escape_controls(said), soft_wrap=True, markup=False, highlight=False)
        else:
            print(escape_controls(said), file=sys.stderr)


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


def write_student_outputs(result: GradeResult, out: Path, name: str, review: FinalRow | None = None) -> None:
    """The report and the JSON; an instructor's overrides and comments, if any, beside the grader's result."""
    review = review if review is not None and review.reviewed_by_instructor else None
    data = result.to_dict() if review is None else {**result.to_dict(), "review": review.to_dict()}
    write_text(ensure_folder(out / "results") / f"{name}.json", json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    write_html(result, ensure_folder(out / "reports") / f"{name}.html", review=review)


def write_class_outputs(rows: list[ClassRow], out: Path, names: dict[str, str], lang: str,
                        finals: dict[str, FinalRow] | None = None, queue_count: int | None = None,
                        identities: dict[str, LmsEntry] | None = None) -> None:
    """grades.csv and the dashboard; with `finals` (by file), the final scores, a person's overrides
    applied, and the number of open review items; with `identities` (by file), what the LMS said."""
    write_grades_csv(rows, out / "grades.csv", finals, identities)
    final = {file: row.final_score for file, row in finals.items()} if finals is not None else None
    write_dashboard(_named(rows, identities or {}), out / "index.html", names, lang, final=final,
                    queue_count=queue_count)


def _named(rows: list[ClassRow], identities: dict[str, LmsEntry]) -> list[ClassRow]:
    """The rows as the dashboard shows them: a student the LMS named is "Name (id)"."""
    return [replace(row, student=f"{entry.identity.name} ({row.student})")
            if (entry := identities.get(row.file)) and entry.identity.name else row for row in rows]

