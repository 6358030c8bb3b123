"""`grade override|comment|reviewed|queue OUT ...`: an instructor's decisions on a graded class.

Each change is one gradebook transaction (grader/review.py), then that student's report and JSON
and the class's grades.csv and dashboard are written again. Bad input: one line on stderr, exit
2, nothing written.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from pathlib import Path

from grader.gradebook import Gradebook
from grader.messages import escape_controls
from grader.options import EXIT_BAD_INPUT, OneLineParser
from grader.review import (KINDS, ReviewError, add_comment, add_override, clear_override, mark_reviewed,
                           refresh_outputs, review_queue)

COMMANDS = ("override", "comment", "reviewed", "queue")
GRADEBOOK = "gradebook.sqlite"
EXIT_OK = 0
EXIT_NOT_WRITTEN = 1  # the change is in the gradebook, but an output could not be written


def review_main(command: str, argv: list[str]) -> int:
    args = _parser(command).parse_args(argv)
    try:
        book = _open(args.out)
    except (ReviewError, sqlite3.Error) as error:
        return _bad(command, error)
    try:
        if command == "queue":
            queue = review_queue(book)
            for item in queue:
                print("\t".join(escape_controls(part) for part in (item.student, item.kind, item.file, item.why)))
            if not queue:  # said to the person, not to a script reading the rows
                print(f"grade queue: nothing in {escape_controls(str(args.out))} waits for a review", file=sys.stderr)
            return EXIT_OK
        said = _change(command, args, book)
        try:
            refresh_outputs(book, args.out, args.student)
        except OSError as error:
            where = escape_controls(error.filename or args.out)
            print(f"grade {command}: saved in the gradebook, but cannot write {where}: {error.strerror or error}",
                  file=sys.stderr)
            return EXIT_NOT_WRITTEN
    except (ReviewError, sqlite3.Error) as error:
        return _bad(command, error)
    finally:
        book.close()
    print(escape_controls(said))
    return EXIT_OK


def _change(command: str, args: argparse.Namespace, book: Gradebook) -> str:
    """Make the change; what to tell the instructor."""
    by = args.by or _user()
    if command == "override" and args.clear:
        if args.points is not None:
            raise ReviewError("--clear takes no POINTS")
        cleared = clear_override(book, args.student, args.step, args.reason, by)
        return f"{cleared.student} {cleared.step}: override of {cleared.old_points} points cleared by {cleared.by}"
    if command == "override":
        if args.points is None:
            raise ReviewError("give POINTS, or --clear")
        made = add_override(book, args.student, args.step, _points(args.points), args.reason, by)
        return f"{made.student} {made.step}: {made.old_points} → {made.points} points, by {made.by}"
    if command == "comment":
        comment = add_comment(book, args.student, args.text, by)
        return f"{comment.student}: comment added by {comment.by}"
    mark_reviewed(book, args.student, by, args.kind)
    return f"{args.student}: {args.kind or 'every'} open item marked reviewed by {by}"


def _parser(command: str) -> argparse.ArgumentParser:
    parser = OneLineParser(prog=f"grade {command}", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, metavar="OUT", help="the folder a class was graded into")
    if command == "queue":
        return parser
    parser.add_argument("student", metavar="STUDENT",
                        help="the student's id (or, for one of several notebooks, its file)")
    if command == "override":
        parser.add_argument("step", metavar="STEP", help="the step's number or id: 1 or step1")
        parser.add_argument("points", nargs="?", metavar="POINTS", help="the step's new points, 0 to its maximum")
        parser.add_argument("--clear", action="store_true", help="remove the override: the grader's points count again")
        parser.add_argument("--reason", required=True, help="why (shown to the student)")
    elif command == "comment":
        parser.add_argument("text", metavar="TEXT", help="the comment (shown to the student)")
    else:
        parser.add_argument("--kind", choices=KINDS, help="mark only this kind of item reviewed")
    parser.add_argument("--by", metavar="NAME", help="who makes the change (default: your user name)")
    return parser


def _open(out: Path) -> Gradebook:
    path = out / GRADEBOOK
    if not path.is_file():
        raise ReviewError(f"{out}: no gradebook there ({GRADEBOOK}); grade the class into it first")
    return Gradebook(path)


def _points(given: str) -> int:
    try:
        return int(given)
    except ValueError:
        raise ReviewError(f"POINTS {given!r}: a whole number of points") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except OSError:
        raise ReviewError("cannot tell who you are: give --by NAME") from None


def _bad(command: str, error: Exception) -> int:
    print(f"grade {command}: {escape_controls(error)}", file=sys.stderr)
    return EXIT_BAD_INPUT
