"""Which Keras a notebook runs under: the one place that knows the choices and how each is encoded.

`--keras 3` is Keras 3 (`keras`); `--keras 2` is tf-keras, the Keras 2 the course was written
for, which a kernel gets from TensorFlow when TF_USE_LEGACY_KERAS=1 is in its environment (the
kernel-side modules read that variable; they cannot import this module inside a jail).
`--keras auto` starts under Keras 2 when the code passes keywords only Keras 2 accepts, and
otherwise under Keras 3; when Keras 3 then rejects Keras 2 code, the notebook is run again
under Keras 2 and the better score is kept.

Either runs on TensorFlow (Q12): the kernel's environment says KERAS_BACKEND=tensorflow, the probe
imports Keras before any student code (so KERAS_BACKEND set by the notebook comes too late), and
`keras.config.set_backend` changes nothing in a graded kernel. A notebook that asks for another
backend is graded with TensorFlow, with a note.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from nbformat import NotebookNode

from grader.layer_kinds import vocabulary
from grader.runs import CellRun
from grader.steps import callee_name, readable_cells

AUTO = "auto"
KERAS_CHOICES = (AUTO, "2", "3")
LEGACY_VARIABLE = "TF_USE_LEGACY_KERAS"
BACKEND_VARIABLE = "KERAS_BACKEND"
BACKEND = "tensorflow"  # the only backend grading runs Keras with

# Keras 2 code that Keras 3 rejects: the keywords, and Keras 3's error for them.
_KERAS2_KEYWORDS = {"input_dim", "batch_input_shape"}
_KERAS2_KEYWORD_ERROR = "Unrecognized keyword arguments passed to"
_KERAS2_ONLY_NAMES = ("compat.v1", "disable_v2_behavior", "get_session", "set_session", "tf.Session")
# A whole-number size written as a float (`Dense(hidden / 3)`), which Keras 2 takes and Keras 3 refuses.
_FLOAT_SIZE_ERROR = re.compile(r"expected a positive integer\. Received: \w+=\d+\.0\b")


@dataclass(frozen=True)
class KerasRuntime:
    """A Keras major version a kernel can run: 2 (tf-keras) or 3."""

    major: int

    @property
    def environment(self) -> dict[str, str]:
        """What selects this Keras inside a kernel (and its backend, whatever a configuration file says)."""
        return {BACKEND_VARIABLE: BACKEND, **({LEGACY_VARIABLE: "1"} if self.major == 2 else {})}

    @classmethod
    def first_choice(cls, choice: str, nb: NotebookNode) -> KerasRuntime:
        """The Keras to run `nb` under first, for `--keras CHOICE`."""
        if choice not in KERAS_CHOICES:
            raise ValueError(f"--keras {choice}: one of {', '.join(KERAS_CHOICES)}")
        if choice != AUTO:
            return cls(int(choice))
        return KERAS2 if uses_keras2_api(nb) else KERAS3

    def retry(self, choice: str, runs: list[CellRun], full_marks: bool) -> KerasRuntime | None:
        """The Keras to run the notebook again under, after `runs` under this one, when the choice is
        auto: Keras 2 when Keras 3 rejected Keras 2 code; Keras 3 when a notebook started under
        Keras 2 for its Keras 2 keywords fell short of full marks and raised an error there (its
        other code may be Keras 3's). Otherwise None."""
        if choice != AUTO:
            return None
        if self == KERAS3 and ran_keras2_code(runs):
            return KERAS2
        raised = any(run.error for run in runs)
        return KERAS3 if self == KERAS2 and not full_marks and raised else None


KERAS2 = KerasRuntime(2)
KERAS3 = KerasRuntime(3)


def uses_keras2_api(nb: NotebookNode) -> bool:
    """Does the code pass keywords that only Keras 2 accepts (input_dim=, batch_input_shape=)? Only
    the code the analysis reads is looked at (grader/steps.py, CODE_CHARS); only calls of layers
    the grader knows (grader/layers.toml) count."""
    layers = vocabulary()
    for _, source in readable_cells(nb):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, or nested too deep to read
            continue
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            name = callee_name(call)
            if name not in layers:  # build_model(input_dim=1) is the student's own function
                continue
            keywords = {keyword.arg for keyword in call.keywords} & _KERAS2_KEYWORDS
            # An Embedding's input_dim is its vocabulary, in every Keras.
            if keywords - ({"input_dim"} if name == "Embedding" else set()):
                return True
    return False


def keras2_reason(nb: NotebookNode, keras3_runs: list[CellRun]) -> str:
    """Why a notebook was graded under Keras 2, as the key of its note: its Keras 2 keywords, a
    size written as a float that Keras 3 refused, or code only TensorFlow 1 style Keras 2 runs."""
    if uses_keras2_api(nb):
        return "keras2"
    if any(run.error and _FLOAT_SIZE_ERROR.search(run.error.evalue) for run in keras3_runs):
        return "keras2_float"
    return "keras2_only"


def ran_keras2_code(runs: list[CellRun]) -> bool:
    """Did Keras 3 reject Keras 2 code? A Keras 2 keyword; a first layer declared with input_dim,
    which Keras 3 reads as a 2-D input that no recurrent layer accepts; or an error in code that
    uses what only TensorFlow 1 style Keras 2 runs (tensorflow.compat.v1, get_session, ...); or a
    whole-number size written as a float (100.0), which Keras 2 takes."""
    tf1_style = any(name in run.source for run in runs for name in _KERAS2_ONLY_NAMES)
    for run in runs:
        if run.error and (tf1_style or _KERAS2_KEYWORD_ERROR in run.error.evalue
                          or _FLOAT_SIZE_ERROR.search(run.error.evalue)):
            return True
        first = run.snapshot.layers[0] if run.snapshot and run.snapshot.layers else None
        if run.error and first and first.declared_input_shape and len(first.declared_input_shape) == 2:
            return True
    return False


# How a notebook asks for a backend: os.environ["KERAS_BACKEND"] = "jax", os.environ.setdefault(
# "KERAS_BACKEND", "jax"), %env KERAS_BACKEND=jax (or `%env KERAS_BACKEND jax`), keras.config.set_backend("jax").
# (Each run of blanks is matched by one pattern only: no backtracking over a long one.)
_BACKEND_ASKED = re.compile(r"""KERAS_BACKEND['"]?[ \t]*(?:\][ \t]*)?=[ \t]*['"]?(\w+)"""
                            r"""|KERAS_BACKEND['"][ \t]*,[ \t]*['"](\w+)"""
                            r"""|%(?:set_)?env[ \t]+KERAS_BACKEND[ \t]+(\w+)"""
                            r"""|set_backend\([ \t]*['"](\w+)""")


def requested_backend(nb: NotebookNode) -> str | None:
    """The Keras backend other than TensorFlow that the notebook's code asks for (the last it
    asks for, as the last setting wins), or None. Comment lines ask for nothing; only the code the
    analysis reads is looked at (grader/steps.py, CODE_CHARS)."""
    asked = None
    for _, source in readable_cells(nb):
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
        for match in _BACKEND_ASKED.finditer(code):
            asked = next(group for group in match.groups() if group)
    return asked.lower() if asked is not None and asked.lower() != BACKEND else None


def is_keras2_version(version: str | None) -> bool:
    """Is a version the kernel reported (e.g. "2.21.0") one of Keras 2?"""
    return bool(version) and version.split(".", 1)[0] == "2"
