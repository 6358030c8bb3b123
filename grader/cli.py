"""The `grade` command: a thin layer over grade_notebook() and the reports."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader import __version__
from grader.grade import KERAS_CHOICES, LANGUAGES, grade_notebook, unreadable_result
from grader.messages import text
from grader.notebook import UnreadableNotebook
from grader.report_html import default_report_path, write_html
from grader.report_terminal import print_result
from grader.results import GradeResult
from grader.sandbox import MiB, Limits
from grader.spec import DEFAULT_EXERCISE

DEFAULTS = Limits()
EXIT_FULL_MARKS = 0
EXIT_NOT_FULL = 1
EXIT_CANNOT_GRADE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grade", description="Grade the Keras LSTM network exercise.")
    parser.add_argument("notebook", help="the student's .ipynb file")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON to PATH ('-' for stdout)")
    parser.add_argument("--keras", choices=KERAS_CHOICES, default="auto",
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
    limits.add_argument("--allow-network", action="store_true",
                        help="let the kernel reach the network (it has none by default)")
    parser.add_argument("--lang", choices=LANGUAGES, default="auto",
                        help="language of the feedback (default: the notebook's)")
    report = parser.add_mutually_exclusive_group()
    report.add_argument("--report", metavar="PATH",
                        help="where to write the HTML report (default: NOTEBOOK's name + .report.html, beside it)")
    report.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    parser.add_argument("--exercise", default=DEFAULT_EXERCISE,
                        help="exercise id under exercises/, or a path to its spec.toml")
    parser.add_argument("--version", action="version", version=f"lstm-grader {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    to_stdout = args.json == "-"
    console = Console(stderr=to_stdout)
    lang = "en" if args.lang == "auto" else args.lang  # until the notebook is read
    try:
        result = grade_notebook(args.notebook, exercise=args.exercise, keras=args.keras,
                                limits=limits_from(args), lang=args.lang)
    except UnreadableNotebook as error:
        print(text("cli.cannot_grade", lang, reason=error.reason(lang)), file=sys.stderr)
        _write_json(unreadable_result(args.notebook, error.reason(lang), exercise=args.exercise, lang=lang),
                    args.json)
        return EXIT_CANNOT_GRADE
    except Exception as error:  # a bug of ours must still end in one line and a defined exit code
        if os.environ.get("GRADER_DEBUG"):
            raise
        print(text("cli.internal_error", lang, error=f"{error.__class__.__name__}: {error}"), file=sys.stderr)
        return EXIT_CANNOT_GRADE
    print_result(result, console)
    _write_json(result, args.json)
    if not args.no_report:
        path = Path(args.report) if args.report else default_report_path(args.notebook)
        try:
            write_html(result, path)
        except OSError as error:
            print(text("cli.cannot_write_report", result.lang, path=path, error=error.strerror or error),
                  file=sys.stderr)
            return EXIT_CANNOT_GRADE
        console.print(Text(text("report.report_written", result.lang, path=str(path))), soft_wrap=True)
    return EXIT_FULL_MARKS if result.full_marks else EXIT_NOT_FULL


def limits_from(args: argparse.Namespace) -> Limits:
    """The defaults of Limits, with what the command line changed."""
    given = {
        "cell_seconds": args.timeout, "notebook_seconds": args.run_timeout,
        "memory_bytes": args.memory_limit and args.memory_limit * MiB, "cpu_seconds": args.cpu_limit,
        "file_size_bytes": args.file_size_limit and args.file_size_limit * MiB,
        "processes": args.process_limit, "output_bytes": args.output_limit and args.output_limit * 1024,
        "network": args.allow_network or None,
    }
    return replace(DEFAULTS, **{name: value for name, value in given.items() if value is not None})


def _write_json(result: GradeResult, destination: str | None) -> None:
    if destination == "-":
        sys.stdout.write(result.to_json() + "\n")
    elif destination:
        Path(destination).write_text(result.to_json() + "\n", encoding="utf-8")
