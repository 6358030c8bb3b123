"""The `grade` command: a thin layer over grade_notebook(), grade_batch() and the reports.

One notebook: `grade my.ipynb`. A class: `grade PATH... -o OUT`. Gradescope: `grade --gradescope`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from grader import __version__
from grader.batch import OutputBusy, grade_batch
from grader.cluster import ClusterUnreachable, DaskMissing
from grader.grade import OnProgress, grade_notebook, unreadable_result
from grader.gradescope import RESULTS_PATH, SUBMISSION_DIR, run_gradescope
from grader.messages import escape_controls, text
from grader.new_exercise import new_exercise
from grader.notebook import UnreadableNotebook, recorded_exercise
from grader.report_html import default_report_path, write_html
from grader.report_terminal import print_result
from grader.results import GradeResult
from grader.review_cli import COMMANDS as REVIEW_COMMANDS, review_main
from grader.lms import LMS_CHOICES, LmsError
from grader.lms.commands import COMMANDS as LMS_COMMANDS, lms_main
from grader.safe_write import write_text
from grader.kernel import JailUnavailable, Limits, MiB, check_jail_tools
from grader.keras_runtime import KERAS_CHOICES
from grader.options import AUTO, LANGUAGE_CHOICES, BatchOptions, GradeOptions, shown_language
from grader.spec import DEFAULT_EXERCISE, SpecError, load_spec
from grader.submissions import SubmissionError

DEFAULTS = Limits()
EXIT_FULL_MARKS = 0
EXIT_NOT_FULL = 1
EXIT_CANNOT_GRADE = 2

# Every `grade SUBCOMMAND`, with its one line in `grade --help`: add yours here (tests/test_cli.py
# checks that each subcommand main() dispatches is listed).
SUBCOMMANDS = {
    "new-exercise": "write a first exercise (spec.toml, student notebook) from a solution notebook",
    "check-spec": "check exercise specs: ok, or one line naming the file and the key",
    "queue": "what in a graded class waits for the instructor's review",
    "override": "set a student's points for a step, or --clear them",
    "comment": "add a comment the student sees in the report",
    "reviewed": "mark a student's open items reviewed",
    "export": "fill the LMS's grade file with the class's final grades, for its import",
    "release": "write each student's final report (overrides and comments in it)",
    "review": "the review web page of a graded class, on 127.0.0.1: queue, overrides, comments",
}


def build_parser() -> argparse.ArgumentParser:
    width = max(map(len, SUBCOMMANDS))
    parser = argparse.ArgumentParser(
        prog="grade", description="Grade Keras network exercises, step by step.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="subcommands (grade SUBCOMMAND --help for more):\n" + "\n".join(
            f"  grade {name:<{width}}  {line}" for name, line in SUBCOMMANDS.items()))
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="a student's .ipynb file; or, with -o, notebooks, folders and .zip archives")
    batch = parser.add_argument_group("a whole class")
    batch.add_argument("-o", "--out", type=Path, metavar="OUT",
                       help="grade every submission in PATH... into OUT (gradebook, reports, CSV, dashboard)")
    batch.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel workers (default: number of CPUs)")
    batch.add_argument("--force", action="store_true", help="regrade submissions the gradebook already has")
    batch.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                       help="grade on a Dask cluster: tls://HOST:PORT (credentials from Dask's configuration) or "
                            "tcp://HOST:PORT, or local:N for a local cluster of N workers only this run can use")
    batch.add_argument("--cold", action="store_true",
                       help="start every kernel afresh instead of forking warm ones (slower, same results)")
    batch.add_argument("--id-pattern", metavar="REGEX",
                       help="student id: a regular expression on the submission's path; group 'id' is the id")
    batch.add_argument("--lms", choices=LMS_CHOICES,
                       help="read the class as this LMS downloads it: its student ids, names and late marks")
    gradescope = parser.add_argument_group("Gradescope")
    gradescope.add_argument("--gradescope", action="store_true",
                            help="grade Gradescope's autograder submission and write its results.json")
    gradescope.add_argument("--submission-dir", type=Path, default=SUBMISSION_DIR,
                            help=f"where Gradescope puts the submission (default {SUBMISSION_DIR})")
    gradescope.add_argument("--results-path", type=Path, default=RESULTS_PATH,
                            help=f"where Gradescope reads results (default {RESULTS_PATH})")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON to PATH ('-' for stdout)")
    parser.add_argument("--keras", choices=KERAS_CHOICES, default=AUTO,
                        help="Keras to run under: 3, 2 (tf-keras), or auto (default)")
    limits = parser.add_argument_group("limits on the student's kernel")
    limits.add_argument("--timeout", type=float, metavar="SECONDS",
                        help=f"wall time per cell (default {DEFAULTS.cell_seconds:g})")
    limits.add_argument("--run-timeout", type=float, metavar="SECONDS",
                        help=f"wall time for the whole notebook (default {DEFAULTS.notebook_seconds:g})")
    limits.add_argument("--memory-limit", type=int, metavar="MiB",
                        help=f"address space per kernel process (default {DEFAULTS.memory_bytes // MiB})")
    limits.add_argument("--cpu-limit", type=int, metavar="SECONDS",
                        help=f"CPU time per kernel process (default {DEFAULTS.cpu_seconds})")
    limits.add_argument("--file-size-limit", type=int, metavar="MiB",
                        help=f"largest file the notebook may write (default {DEFAULTS.file_size_bytes // MiB})")
    limits.add_argument("--process-limit", type=int, metavar="N",
                        help=f"processes and threads of the kernel (default {DEFAULTS.processes})")
    limits.add_argument("--output-limit", type=int, metavar="KiB",
                        help=f"output kept of one notebook (default {DEFAULTS.output_bytes // 1024})")
    limits.add_argument("--disk-limit", type=int, metavar="MiB",
                        help=f"all the kernel's working folder may hold (default {DEFAULTS.folder_bytes // MiB})")
    limits.add_argument("--files-limit", type=int, metavar="N",
                        help=f"files and folders in the kernel's working folder (default {DEFAULTS.folder_entries})")
    limits.add_argument("--allow-network", action="store_true",
                        help="let the kernel reach the network (it has none by default)")
    parser.add_argument("--lang", choices=LANGUAGE_CHOICES, default=AUTO,
                        help="language of the feedback (default: the notebook's)")
    report = parser.add_mutually_exclusive_group()
    report.add_argument("--report", metavar="PATH",
                        help="where to write the HTML report (default: NOTEBOOK's name + .report.html, beside it)")
    report.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    parser.add_argument("--exercise", help="exercise id under exercises/, or a path to its spec.toml (default: for one "
                                           f"notebook the one its metadata names, else {DEFAULT_EXERCISE})")
    parser.add_argument("--version", action="version", version=f"lstm-grader {__version__}")
    return parser


def scheduler_address(value: str) -> str:
    """`--scheduler`: local:N (N a whole number above 0), or a tcp:// or tls:// address."""
    if value.startswith("local:"):
        count = value.split(":", 1)[1]
        if not (count.isdigit() and int(count) > 0):
            raise argparse.ArgumentTypeError(f"{value!r}: local:N needs a whole number of workers above 0, e.g. local:4")
    elif not value.startswith(("tcp://", "tls://")):
        raise argparse.ArgumentTypeError(f"{value!r}: tls://HOST:PORT, tcp://HOST:PORT or local:N")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check-spec"]:
        return check_spec_main(argv[1:])
    if argv[:1] == ["new-exercise"]:
        return new_exercise_main(argv[1:])
    if argv[:1] == ["review"]:
        from grader.review_web import review_web_main  # Starlette and uvicorn only when serving
        return review_web_main(argv[1:])
    if argv[:1] and argv[0] in REVIEW_COMMANDS:
        return review_main(argv[0], argv[1:])
    if argv[:1] and argv[0] in LMS_COMMANDS:
        return lms_main(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    lang = shown_language(args.lang)  # until a notebook is read
    try:
        check_jail_tools()  # nothing is graded outside a jail
    except JailUnavailable as error:
        print(text("cli.no_jail", lang, reason=error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    try:
        args.exercise = chosen_exercise(args)
        load_spec(args.exercise)  # a bad spec grades nothing: one line, before any notebook runs
    except SpecError as error:
        print(escape_controls(error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    if args.gradescope:
        run_gradescope(grade_options(args), submission_dir=args.submission_dir, results_path=args.results_path)
        return EXIT_FULL_MARKS
    if not args.paths:
        parser.error("give a notebook, or PATH... -o OUT for a class")
    single = len(args.paths) == 1 and not Path(args.paths[0]).is_dir() and not args.paths[0].endswith(".zip")
    if args.out is None and not single:
        print(text("batch.needs_out", lang), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    return grade_class(args, lang) if args.out is not None else grade_one(args, lang)


def chosen_exercise(args: argparse.Namespace) -> str | Path:
    """--exercise; else, for one notebook, the installed exercise its metadata names; else the default.
    A class is graded against the exercise its instructor names, never one a notebook chose."""
    if args.exercise is not None:
        return args.exercise
    one = len(args.paths) == 1 and args.out is None and not args.gradescope
    return (recorded_exercise(args.paths[0]) if one else None) or DEFAULT_EXERCISE


def grade_class(args: argparse.Namespace, lang: str) -> int:
    console = Console()
    try:
        options = BatchOptions(grading=grade_options(args, warm=not args.cold), jobs=args.jobs, force=args.force,
                               id_pattern=args.id_pattern, scheduler=args.scheduler, lms=args.lms)
        summary = grade_batch(args.paths, args.out, options, console=console)
    except OutputBusy:
        print(text("batch.busy", lang, out=escape_controls(args.out)), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except DaskMissing as error:
        print(text("cli.needs_dask", lang, hint=error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except ClusterUnreachable as error:
        print(text("cli.no_cluster", lang, error=error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except (SubmissionError, LmsError) as error:
        print(text("cli.cannot_grade", lang, reason=escape_controls(error.reason(lang))), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except re.error as error:
        print(text("cli.bad_pattern", lang, error=error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except OSError as error:
        print(text("cli.cannot_write", lang, path=escape_controls(error.filename or args.out),
                   error=error.strerror or error), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except Exception as error:  # a bug of ours: one line; what was graded is in the gradebook
        return _internal_error(error, lang)
    if summary.total == 0:
        print(text("batch.no_submissions", lang), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    console.print(text("batch.summary", lang, graded=summary.graded, failed=summary.failed,
                       skipped=summary.skipped, seconds=summary.seconds, out=escape_controls(args.out)),
                  soft_wrap=True, markup=False, highlight=False)
    return EXIT_NOT_FULL if summary.failed else EXIT_FULL_MARKS


def grade_one(args: argparse.Namespace, lang: str) -> int:
    notebook = args.paths[0]
    to_stdout = args.json == "-"
    console = Console(stderr=to_stdout)
    try:
        with live_progress(console) as progress:
            result = grade_notebook(notebook, grade_options(args), progress)
    except UnreadableNotebook as error:
        print(text("cli.cannot_grade", lang, reason=escape_controls(error.reason(lang))), file=sys.stderr)
        _write_json(unreadable_result(notebook, error.reason(lang), exercise=args.exercise, lang=lang),
                    args.json)
        return EXIT_CANNOT_GRADE
    except Exception as error:  # a bug of ours must still end in one line and a defined exit code
        return _internal_error(error, lang)
    print_result(result, console)
    _write_json(result, args.json)
    if not args.no_report:
        path = Path(args.report) if args.report else default_report_path(notebook)
        try:
            write_html(result, path)
        except OSError as error:
            print(text("cli.cannot_write_report", result.lang, path=escape_controls(path),
                       error=error.strerror or error), file=sys.stderr)
            return EXIT_CANNOT_GRADE
        console.print(Text(text("report.report_written", result.lang, path=escape_controls(path))), soft_wrap=True)
    return EXIT_FULL_MARKS if result.full_marks else EXIT_NOT_FULL


@contextmanager
def live_progress(console: Console) -> Iterator[OnProgress | None]:
    """What the grading is doing, as one live line on a terminal, gone when it ends; nothing elsewhere."""
    if not console.is_terminal:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TextColumn("{task.fields[count]}"),
                  BarColumn(), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=None, count="")
        said: list[str] = []

        def show(doing: str, done: int, total: int) -> None:
            # Drawn at once when the stage changes: a short one (the checks) is seen, not skipped by the refresh rate.
            bar.update(task, description=doing, completed=done, total=total or None,
                       count=f"{done}/{total}" if total else "", refresh=said[-1:] != [doing])
            said[-1:] = [doing]
        yield show


def _internal_error(error: Exception, lang: str) -> int:
    if os.environ.get("GRADER_DEBUG"):
        raise error
    print(text("cli.internal_error", lang, error=f"{error.__class__.__name__}: {error}"), file=sys.stderr)
    return EXIT_CANNOT_GRADE


def grade_options(args: argparse.Namespace, warm: bool = False) -> GradeOptions:
    return GradeOptions(exercise=args.exercise, keras=args.keras, limits=limits_from(args), lang=args.lang, warm=warm)


def limits_from(args: argparse.Namespace) -> Limits:
    """The defaults of Limits, with what the command line changed."""
    given = {
        "cell_seconds": args.timeout, "notebook_seconds": args.run_timeout,
        "memory_bytes": args.memory_limit and args.memory_limit * MiB, "cpu_seconds": args.cpu_limit,
        "file_size_bytes": args.file_size_limit and args.file_size_limit * MiB,
        "processes": args.process_limit, "output_bytes": args.output_limit and args.output_limit * 1024,
        "folder_bytes": args.disk_limit and args.disk_limit * MiB, "folder_entries": args.files_limit,
        "network": args.allow_network or None,
    }
    return replace(DEFAULTS, **{name: value for name, value in given.items() if value is not None})


def _write_json(result: GradeResult, destination: str | None) -> None:
    if destination == "-":
        sys.stdout.write(result.to_json() + "\n")
    elif destination:
        write_text(destination, result.to_json() + "\n")


def check_spec_main(argv: list[str]) -> int:
    """`grade check-spec PATH...`: each spec loads, or one line naming the file, the key and what is allowed."""
    parser = argparse.ArgumentParser(prog="grade check-spec", description="Validate exercise specs.")
    parser.add_argument("specs", nargs="+", metavar="PATH", help="a spec.toml, or an exercise id")
    worst = 0
    for path in parser.parse_args(argv).specs:
        try:
            spec = load_spec(path)
        except SpecError as error:
            print(escape_controls(error), file=sys.stderr)
            worst = EXIT_CANNOT_GRADE
            continue
        print(f"{spec.path}: ok, {len(spec.steps)} steps, {spec.max_score} points")
    return worst


def new_exercise_main(argv: list[str]) -> int:
    """`grade new-exercise SOLUTION.ipynb --id NAME`: exercises/NAME/ from an instructor's solution."""
    parser = argparse.ArgumentParser(prog="grade new-exercise",
                                     description="Write a first exercise (spec.toml and student notebook) from a solution.")
    parser.add_argument("solution", type=Path, help="the instructor's solution notebook")
    parser.add_argument("--id", required=True, help="the exercise's id: its folder's name")
    parser.add_argument("--to", type=Path, metavar="FOLDER", help="where to write it (default exercises/ID)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.id):
        print(f"--id {escape_controls(args.id)!s}: lower-case letters, digits and _ only", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    try:
        check_jail_tools()
        generated = new_exercise(args.solution, args.id, args.to)
    except (JailUnavailable, UnreadableNotebook, SpecError, ValueError, OSError) as error:
        shown = error.reason("en") if isinstance(error, UnreadableNotebook) else str(error)
        print(escape_controls(shown), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    folder = generated.folder
    print(f"{folder}: spec.toml and {args.id}.ipynb written; edit them, then `grade check-spec {folder / 'spec.toml'}`")
    if generated.placeholders:
        shown = ", ".join(generated.placeholders[:3]) + (", …" if len(generated.placeholders) > 3 else "")
        print(f"{folder / 'spec.toml'}: {len(generated.placeholders)} texts the notebook does not give are "
              f"placeholders starting with TODO, for you to write ({shown})", file=sys.stderr)
    return 0
