"""Which Keras a notebook runs under: the one place that knows the choices and how each is encoded.

`--keras 3` is Keras 3 (`keras`); `--keras 2` is tf-keras, the Keras 2 the course was written
for, which a kernel gets from TensorFlow when TF_USE_LEGACY_KERAS=1 is in its environment (the
kernel-side modules read that variable; they cannot import this module inside a jail).
`--keras auto` starts under Keras 2 when the code passes keywords only Keras 2 accepts, and
otherwise under Keras 3; when Keras 3 then rejects Keras 2 code, the notebook is run again
under Keras 2 and the better score is kept.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nbformat import NotebookNode

from grader.runs import CellRun
from grader.steps import callee_name, code_cells

AUTO = "auto"
KERAS_CHOICES = (AUTO, "2", "3")
LEGACY_VARIABLE = "TF_USE_LEGACY_KERAS"

# Keras 2 code that Keras 3 rejects: the keywords, and Keras 3's error for them.
_KERAS2_KEYWORDS = {"input_dim", "batch_input_shape"}
_KERAS2_KEYWORD_ERROR = "Unrecognized keyword arguments passed to"
_KERAS2_ONLY_NAMES = ("compat.v1", "disable_v2_behavior", "get_session", "set_session", "tf.Session")


@dataclass(frozen=True)
class KerasRuntime:
    """A Keras major version a kernel can run: 2 (tf-keras) or 3."""

    major: int

    @property
    def environment(self) -> dict[str, str]:
        """What selects this Keras inside a kernel."""
        return {LEGACY_VARIABLE: "1"} if self.major == 2 else {}

    @classmethod
    def first_choice(cls, choice: str, nb: NotebookNode) -> KerasRuntime:
        """The Keras to run `nb` under first, for `--keras CHOICE`."""
        if choice not in KERAS_CHOICES:
            raise ValueError(f"--keras {choice}: one of {', '.join(KERAS_CHOICES)}")
        if choice != AUTO:
            return cls(int(choice))
        return KERAS2 if uses_keras2_api(nb) else KERAS3

    def retry(self, choice: str, runs: list[CellRun]) -> KerasRuntime | None:
        """The Keras to run the notebook again under, after `runs` under this one: Keras 2 when the
        choice is auto and Keras 3 rejected Keras 2 code; otherwise None."""
        if choice == AUTO and self == KERAS3 and ran_keras2_code(runs):
            return KERAS2
        return None


KERAS2 = KerasRuntime(2)
KERAS3 = KerasRuntime(3)


def uses_keras2_api(nb: NotebookNode) -> bool:
    """Does the code pass keywords that only Keras 2 accepts (input_dim=, batch_input_shape=)?"""
    for _, source in code_cells(nb):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            keywords = {keyword.arg for keyword in call.keywords} & _KERAS2_KEYWORDS
            # An Embedding's input_dim is its vocabulary, in every Keras.
            if keywords - ({"input_dim"} if callee_name(call) == "Embedding" else set()):
                return True
    return False


def ran_keras2_code(runs: list[CellRun]) -> bool:
    """Did Keras 3 reject Keras 2 code? A Keras 2 keyword; a first layer declared with input_dim,
    which Keras 3 reads as a 2-D input that no recurrent layer accepts; or an error in code that
    uses what only TensorFlow 1 style Keras 2 runs (tensorflow.compat.v1, get_session, ...)."""
    tf1_style = any(name in run.source for run in runs for name in _KERAS2_ONLY_NAMES)
    for run in runs:
        if run.error and (tf1_style or _KERAS2_KEYWORD_ERROR in run.error.evalue):
            return True
        first = run.snapshot.layers[0] if run.snapshot and run.snapshot.layers else None
        if run.error and first and first.declared_input_shape and len(first.declared_input_shape) == 2:
            return True
    return False


def is_keras2_version(version: str | None) -> bool:
    """Is a version the kernel reported (e.g. "2.21.0") one of Keras 2?"""
    return bool(version) and version.split(".", 1)[0] == "2"
