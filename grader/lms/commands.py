"""`grade export OUT --lms NAME --into FILE -o UPLOAD` and `grade release OUT -o DIR|ZIP [--lms moodle]`.

Bad input (no gradebook in OUT, a class not read with that LMS, an LMS file of another shape, an
open review queue without --force): one line on stderr, exit 2, nothing written. Export exits 1
when it wrote the file but some submissions had no row in it (each listed on stderr).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from grader.lms import LMS_CHOICES, LMS_FORMATS, LmsError
from grader.lms.back import (Exported, NotReadAs, QueueOpen, check_queue, export_grades, open_gradebook,
                             release_reports)
from grader.messages import escape_controls, text
from grader.options import EXIT_BAD_INPUT, LANGUAGE_CHOICES, OneLineParser, shown_language

COMMANDS = ("export", "release")
EXIT_OK = 0
EXIT_UNMATCHED = 1  # written, but some submissions have no row in the LMS file



def lms_main(command: str, argv: list[str]) -> int:
    args = _parser(command).parse_args(argv)
    lang = shown_language(args.lang)
    lms = LMS_FORMATS[args.lms] if args.lms else None
    if command == "release" and lms is not None:
        if lms.feedback_folder is None:
            return _say(text("lms.no_zip", lang, lms=lms.title))
        if args.output.suffix.lower() != ".zip":
            return _say(text("lms.zip_name", lang))
    book = open_gradebook(args.out)
    if book is None:
        return _say(text("lms.no_gradebook", lang, command=command, out=escape_controls(args.out)))
    try:
        check_queue(book, args.force)
        if command == "export":
            return _exported(export_grades(book, lms, args.into, args.output, args.assignment), args, lang)
        count = release_reports(book, args.output, lms)
        print(text("lms.released", lang, count=count, output=escape_controls(args.output)))
        return EXIT_OK
    except QueueOpen as error:
        return _say(text("lms.queue_open", lang, command=command, count=error.count, out=escape_controls(args.out)))
    except NotReadAs:
        return _say(text("lms.not_read_as", lang, command=command, out=escape_controls(args.out), lms=lms.name))
    except LmsError as error:
        shown = args.into if command == "export" else args.output
        return _say(text("lms.bad_file", lang, command=command, reason=escape_controls(error.reason(lang, shown=str(shown)))))
    except UnicodeDecodeError:
        return _say(text("lms.cannot_read", lang, command=command, path=escape_controls(args.into), error="not UTF-8"))
    except (OSError, sqlite3.Error) as error:
        path = getattr(error, "filename", None) or args.out
        return _say(text("lms.cannot_read", lang, command=command, path=escape_controls(path),
                         error=getattr(error, "strerror", None) or error))
    finally:
        book.close()


def _exported(exported: Exported, args: argparse.Namespace, lang: str) -> int:
    into = escape_controls(args.into)
    for final, count in exported.several:
        print(text("lms.several", lang, student=escape_controls(final.row.student), count=count,
                   file=escape_controls(final.row.file), score=final.final_score), file=sys.stderr)
    for final, entry in exported.unmatched:
        print(text("lms.no_row", lang, student=escape_controls(final.row.student), name=escape_controls(entry.identity.name),
                   file=escape_controls(final.row.file), score=final.final_score, into=into), file=sys.stderr)
    for note in exported.filled.notes:
        print(f"grade export: {text(f'lms.{note}', lang)}", file=sys.stderr)
    print(text("lms.exported", lang, filled=exported.filled.filled, output=escape_controls(args.output),
               unmatched=len(exported.unmatched), into=into))
    return EXIT_UNMATCHED if exported.unmatched else EXIT_OK


def _say(line: str) -> int:
    print(line, file=sys.stderr)
    return EXIT_BAD_INPUT


def _parser(command: str) -> argparse.ArgumentParser:
    parser = OneLineParser(prog=f"grade {command}")
    parser.add_argument("out", type=Path, metavar="OUT", help="a class graded with grade PATH... -o OUT")
    if command == "export":
        parser.description = "Fill the LMS's grade file with the class's final grades, for its import."
        parser.add_argument("--lms", choices=LMS_CHOICES, required=True, help="the LMS the file comes from")
        parser.add_argument("--into", type=Path, required=True, metavar="FILE",
                            help="Moodle's offline grading worksheet, or Canvas's gradebook export (.csv)")
        parser.add_argument("--assignment", metavar="NAME",
                            help="Canvas: the assignment's column, by title, 'Title (id)' or id (default: the only one)")
        parser.add_argument("-o", "--output", type=Path, required=True, metavar="UPLOAD", help="the file to upload")
    else:
        parser.description = "Write each student's final report (overrides and comments in it)."
        parser.add_argument("--lms", choices=LMS_CHOICES,
                            help="moodle: the zip for its 'Upload multiple feedback files in a zip'")
        parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR|ZIP",
                            help="a folder of reports, or with --lms moodle the zip to upload")
    parser.add_argument("--force", action="store_true", help="go on while the review queue has open items")
    parser.add_argument("--lang", choices=LANGUAGE_CHOICES, default="auto", help="language of these messages")
    return parser
