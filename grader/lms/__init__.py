"""Learning management systems: how each names a class's submissions in its download, and the files
it takes grades and feedback back in. `LMS_FORMATS` maps a name given to `--lms` to its format.

A format reads one name (a folder or file name of the download) as an Identity: the LMS's own id
for the student (what its gradebook matches on), the name it wrote beside it, its late marker, and
which copy of a file a resubmission is. `identify_class` gives each submission found its LMS
identity: the student id becomes the LMS's id, only the latest copy of a resubmitted file is kept,
and a download in another shape is refused as a whole, before anything is graded or written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader.messages import CatalogueError
from grader.notebook import ARCHIVE_SUFFIX
from grader.submissions import MOST_NOTEBOOKS, Submission, SubmissionError


class LmsError(CatalogueError):
    """A download, worksheet or gradebook export not in the shape its LMS writes."""

    section = "lms"


@dataclass(frozen=True)
class Identity:
    student: str  # the LMS's id for the student: what its gradebook matches on
    name: str  # the name the LMS wrote beside it ("Zhang San", Canvas's "zhangsan")
    late: bool = False  # the LMS marked the submission late (Canvas's LATE_)
    series: str = ""  # the file's own name without a resubmission suffix: copies of one file share it
    version: tuple[int, ...] = ()  # among copies of one file of one student, the highest is the latest


@dataclass(frozen=True)
class Filled:
    """A worksheet or gradebook export with the class's grades in it."""

    text: str  # the file to upload, as text
    filled: int  # LMS rows given a grade
    unmatched: list[str] = field(default_factory=list)  # student ids of ours that have no LMS row
    notes: list[str] = field(default_factory=list)  # what the instructor should know (a scale used...)


@dataclass(frozen=True)
class Grade:
    """What goes back to the LMS for one student."""

    student: str
    name: str
    points: float
    max_points: int
    feedback: str  # plain text


@dataclass(frozen=True)
class LmsFormat:
    name: str  # as given to --lms
    title: str  # as people write it
    shape: str  # how its download names a student's files, for messages
    identify: Callable[[str], Identity | None]  # one folder or file name of its download
    fill: Callable[[str, list[Grade], str | None], Filled]  # (LMS file's text, grades, --assignment)
    feedback_folder: Callable[[Identity], str] | None = None  # where its feedback zip puts a student's files


@dataclass(frozen=True)
class ClassIdentities:
    submissions: list[Submission]  # with the LMS's ids, the superseded copies left out
    identities: dict[str, Identity]  # by submission file
    superseded: dict[str, str]  # file left out -> the later copy graded instead


def read_class(found: list[Submission], lms: str, given: list[str | Path]) -> ClassIdentities:
    """The submissions found under `given`, read as LMS `lms` writes its download."""
    return identify_class(found, LMS_FORMATS[lms], [Path(path) for path in given],
                          [other for name, other in LMS_FORMATS.items() if name != lms])


def identify_class(found: list[Submission], lms: LmsFormat, given: list[Path],
                   others: list[LmsFormat], most: int = MOST_NOTEBOOKS) -> ClassIdentities:
    """Each submission under its LMS identity. Raises LmsError, naming the first submission that is
    not in the LMS's shape (and the LMS whose shape it has, if any)."""
    archives = {path.name for path in given if path.suffix.lower() == ARCHIVE_SUFFIX and path.is_file()}
    identities: dict[str, Identity] = {}
    for submission in found:
        identity = _identity(submission.file, lms, archives)
        if identity is None:
            other = next((o for o in others if _identity(submission.file, o, archives) is not None), None)
            key = "other_shape" if other is not None else "not_shape"
            raise LmsError(submission.file, key, lms=lms.title, shape=lms.shape,
                           other=other.title if other else "", option=other.name if other else "")
        identities[submission.file] = identity
    latest, superseded = _latest_copies(found, identities)
    kept = _bounded([replace(submission, id=identities[submission.file].student)
                     for submission in found if submission.file in latest], most)
    counts = Counter(submission.id for submission in kept)
    kept = sorted((replace(submission, duplicate=counts[submission.id] > 1) for submission in kept),
                  key=lambda submission: (submission.id, submission.file))
    return ClassIdentities(kept, {s.file: identities[s.file] for s in kept if s.file in identities}, superseded)


def _identity(file: str, lms: LmsFormat, archives: set[str]) -> Identity | None:
    """The first name on the submission's path the LMS wrote, below an archive given directly."""
    parts = PurePosixPath(file).parts
    start = 1 if len(parts) > 1 and parts[0] in archives else 0
    return next((identity for part in parts[start:] if (identity := lms.identify(part)) is not None), None)


def _latest_copies(found: list[Submission], identities: dict[str, Identity]) -> tuple[set[str], dict[str, str]]:
    """The files kept (each student's latest copy of each file) and, for the others, the copy kept instead."""
    series: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for submission in found:
        identity = identities[submission.file]
        series[(identity.student, identity.series or submission.file)].append(submission)
    latest: set[str] = set()
    superseded: dict[str, str] = {}
    for copies in series.values():
        newest = max(copies, key=lambda submission: (identities[submission.file].version, submission.file))
        latest.add(newest.file)
        superseded.update({copy.file: newest.file for copy in copies if copy is not newest})
    return latest, superseded


def _bounded(found: list[Submission], most: int) -> list[Submission]:
    """A student with more than `most` notebooks is one unreadable row, as a crowded folder is."""
    by_student: dict[str, list[Submission]] = defaultdict(list)
    for submission in found:
        by_student[submission.id].append(submission)
    kept: list[Submission] = []
    for student, theirs in by_student.items():
        if len(theirs) <= most:
            kept += theirs
            continue
        first = min(theirs, key=lambda submission: submission.file)
        problem = SubmissionError(first.file, "too_many", count=len(theirs), limit=most)
        kept.append(replace(first, folder=None, problem=problem))
    return kept


def _formats() -> dict[str, LmsFormat]:
    from grader.lms import canvas, moodle

    return {moodle.FORMAT.name: moodle.FORMAT, canvas.FORMAT.name: canvas.FORMAT}


LMS_FORMATS: dict[str, LmsFormat] = _formats()
LMS_CHOICES = tuple(LMS_FORMATS)
