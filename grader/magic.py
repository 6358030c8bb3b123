"""`%grade`, the student's self-check inside Jupyter: `%load_ext grader`, then

    %grade                  every step, on the live model of this kernel
    %grade 3                steps 1 to 3
    %grade --notebook       the saved notebook, graded as `grade` does (jailed, fair, per step)
    %grade --notebook my.ipynb
    %grade --lang en        instead of the notebook's language
    %grade --exercise ID    another exercise than lstm_network, remembered (`--set`: only remember it)

The live check reads the model this kernel holds, with the grader's probe (the same that reads a
graded kernel's model) and the same checks and messages as `grade`: nothing runs again, no second
kernel starts, and nothing is added to the notebook's namespace. Its verdict is the one `grade`
gives a notebook whose steps each ran on the student's own earlier steps; where a step went wrong
only because an earlier one did, `grade` re-runs it on correct earlier steps, which a live look
cannot do. An instructor's result comes from `grade`.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import os
import shlex
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty, SimpleQueue

from IPython.core.magic import Magics, line_magic, magics_class

from grader.checks import compare_network
from grader.errors import has_placeholder, ran_nothing
from grader.layer_kinds import probed_attributes
from grader.messages import detect_language, text
from grader.results import GradeResult, StepResult
from grader.runs import CellRun
from grader.snapshot import parse_snapshot
from grader.spec import DEFAULT_EXERCISE, ExerciseSpec, load_spec


def load(ipython) -> None:
    """Register `%grade`, importing nothing heavy (no Keras, no nbformat: the first cell of every
    notebook runs this). Real `model.summary()` calls are recorded, as in a graded kernel, from the
    moment Keras is imported: by the notebook, or by the first `%grade`."""
    ipython.register_magics(GradeMagics(ipython, _LiveProbe()))


class _LiveProbe:
    """The grader's probe, sealed in this kernel without a key: it reads the live model as plain data."""

    def __init__(self) -> None:
        self._sealed: dict | None = None
        # The Keras the probe reads (grader/kernel/probe.py, _runtime_keras)
        _when_imported("tf_keras" if os.environ.get("TF_USE_LEGACY_KERAS") == "1" else "keras", self.start)

    def start(self) -> None:
        if self._sealed is None:
            from grader.kernel import live_probe
            self._sealed = live_probe()
            self._sealed["_record_summary_calls"]()

    def snapshot(self, spec: ExerciseSpec):
        self.start()
        data = self._sealed["_snapshot"](spec.model_variable, spec.policy.find_model, json.dumps(probed_attributes()))
        summaries = self._sealed["_SUMMARIZED"]
        snapshot = parse_snapshot(data, spec.policy.pass_through)
        if snapshot.model and any(id(model) == snapshot.model.id for model in summaries):
            snapshot = _with_summary(snapshot)
        return snapshot


def _when_imported(name: str, then: Callable[[], None]) -> None:
    """`then()` once module `name` is imported: now if it is, else just after whoever imports it first."""
    if name in sys.modules:
        then()
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))


class _AfterImport:
    """A finder, first on sys.meta_path, that imports nothing: it has the real loader of module
    `name` call `then()` as soon as the module has run. Should `then` fail, the import goes on (the
    next `%grade` calls it again, and says why)."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.then, self.finding = name, then, False

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != self.name or self.finding:
            return None
        self.finding = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.finding = False
        loader = spec.loader if spec is not None else None
        if loader is not None and hasattr(loader, "exec_module"):
            run = loader.exec_module

            def exec_module(module) -> None:
                run(module)
                del loader.exec_module  # this module's own loader: as it was
                self._imported()
            try:
                loader.exec_module = exec_module
            except AttributeError:  # a loader that takes no attribute: the first `%grade` starts the probe
                pass
        return spec

    def _imported(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            self.then()
        except Exception:
            pass


def _with_summary(snapshot):
    return replace(snapshot, summary_calls=(*snapshot.summary_calls, snapshot.model.id))


@magics_class
class GradeMagics(Magics):
    def __init__(self, shell, probe: _LiveProbe) -> None:
        super().__init__(shell)
        self._probe = probe
        self._exercise: str | None = None  # until `%grade --exercise ID` (the template's first cell says it)

    @line_magic
    def grade(self, line: str) -> None:
        try:
            options = _parser().parse_args(shlex.split(line))
        except SystemExit:  # argparse printed the usage
            return
        self._exercise = options.exercise or self._exercise
        if options.set:
            return
        from grader.spec import SpecError
        try:
            spec = load_spec(self._exercise or self._recorded_exercise(options.notebook))
        except SpecError as error:  # an unknown exercise: one line
            print(error)
            return
        lang = options.lang or self._language()
        shown = _Shown()
        if options.notebook is not None:
            result = self._grade_notebook(options.notebook, spec, lang, shown)
            if result is None:
                return
            steps = result.steps
        else:
            result = self._grade_live(spec, lang)
            steps = result.steps[:options.up_to] if options.up_to else result.steps
        shown.show(InlineVerdict(result, steps, live=options.notebook is None))

    def _grade_live(self, spec: ExerciseSpec, lang: str) -> GradeResult:
        snapshot = self._probe.snapshot(spec)
        # A recorded summary call is a real one, and the real method prints: the summary was printed.
        printed = [{"output_type": "stream", "name": "stdout", "text": spec.policy.summary_mark}]
        runs = [CellRun(-1, "", snapshot=snapshot, outputs=printed if snapshot.summary_calls else [])]
        steps = _judge_live(spec, runs, lang)
        if snapshot.model is None and self._ran_a_placeholder(spec):
            steps = [_not_run(step, lang) for step in steps]
        layers = snapshot.layers
        network = compare_network(spec, layers, snapshot.model.input_dim if snapshot.model else None,
                                  {step.id: step.passed for step in steps})
        return GradeResult(notebook="", exercise=spec.id, exercise_title=spec.title[lang],
                           score=sum(step.score for step in steps), max_score=spec.max_score, keras=None,
                           status="graded", steps=steps, lang=lang, network=network)

    def _ran_a_placeholder(self, spec: ExerciseSpec) -> bool:
        """Did one of this kernel's last cells still hold the placeholder (`<None>`)? Such a cell is
        a SyntaxError: none of its lines ran, `model = Sequential()` beside it included."""
        history = getattr(self.shell, "history_manager", None)
        cells = list(getattr(history, "input_hist_raw", []))[-HISTORY_CELLS:]
        return any(has_placeholder(cell[:CELL_CHARS], spec.policy.placeholder) for cell in cells)

    def _grade_notebook(self, path: str, spec: ExerciseSpec, lang: str, shown: _Shown) -> GradeResult | None:
        found = path or self._notebook_path()
        if not found:
            print(text("magic.which_notebook", lang))
            return None
        from grader.grade import grade_notebook  # the full grader: only when asked for
        from grader.kernel import JailUnavailable, check_jail_tools
        from grader.notebook import UnreadableNotebook
        from grader.options import GradeOptions
        try:
            check_jail_tools()
            # In a thread of its own: this kernel's event loop runs in this one, and grading runs its own.
            with ThreadPoolExecutor(max_workers=1) as thread:
                return shown.follow(thread.submit(grade_notebook, found, GradeOptions(exercise=spec.path, lang=lang),
                                                  shown.hear))
        except JailUnavailable as error:
            print(text("cli.no_jail", lang, reason=error))
        except UnreadableNotebook as error:
            print(text("cli.cannot_grade", lang, reason=error.reason(lang)))
        return None

    def _recorded_exercise(self, notebook: str | None) -> str:
        """With no --exercise: the exercise the notebook's metadata names (the one graded with
        --notebook PATH, else this kernel's, where Jupyter says where it is), else the default."""
        from grader.notebook import recorded_exercise
        path = notebook or self._notebook_path()
        return (recorded_exercise(path) if path else None) or DEFAULT_EXERCISE

    def _notebook_path(self) -> str | None:
        """Where Jupyter says this kernel's notebook is: VS Code names it in the namespace;
        JupyterLab and Notebook 7 in the kernel's environment (relative to the server's root)."""
        vscode = self.shell.user_ns.get("__vsc_ipynb_file__")
        if isinstance(vscode, str) and Path(vscode).is_file():
            return vscode
        session = os.environ.get("JPY_SESSION_NAME")
        for candidate in (session, session and Path.cwd() / Path(session).name):
            if candidate and Path(candidate).is_file() and str(candidate).endswith(".ipynb"):
                return str(candidate)
        return None

    def _language(self) -> str:
        cells = self.shell.user_ns.get("In", [])
        return detect_language([cell for cell in cells if isinstance(cell, str)]) if cells else "en"


def _judge_live(spec: ExerciseSpec, runs: list[CellRun], lang: str) -> list[StepResult]:
    """The steps, judged on the live model as a whole: its layers aligned to the steps they belong to."""
    from grader.grading import StepJudge  # the judge imports nbformat: only when asked for
    from grader.steps import StepMap
    # Without a runner the judge awaits nothing: driven here, inside ipykernel's running loop.
    steps = _run_without_loop(StepJudge(spec, StepMap("none"), runs, None, lang).judge_all())
    whole = text("note.whole_model", lang)
    return [_as_live(step, whole) for step in steps]


def _run_without_loop(coroutine):
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("live judging awaited something")


def _not_run(step: StepResult, lang: str) -> StepResult:
    """A step failed for want of a model while a cell of the kernel held the placeholder: that is
    the cause to say, once (the missing model only restates it, and its advice would not fit)."""
    if step.passed or not any(check.name == "model" and not check.passed for check in step.checks):
        return step
    placeholder = text("note.placeholder", lang)
    return replace(step, reason=placeholder, notes=[placeholder, *step.notes])


def _as_live(step: StepResult, whole: str) -> StepResult:
    return replace(step, notes=[note for note in step.notes if note != whole], judged_on="live")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%grade", add_help=True)
    parser.add_argument("up_to", nargs="?", type=int, help="check steps 1 to N only")
    parser.add_argument("--notebook", nargs="?", const="", metavar="PATH",
                        help="grade the saved notebook as `grade` does")
    parser.add_argument("--lang", choices=("zh", "en"))
    parser.add_argument("--exercise", help="the exercise (remembered for later %%grade in this kernel)")
    parser.add_argument("--set", action="store_true", help="only remember --exercise")
    return parser


@dataclass
class InlineVerdict:
    """The verdicts as the front end shows them: HTML where it can, plain text elsewhere."""

    result: GradeResult
    steps: list[StepResult]
    live: bool

    def _repr_html_(self) -> str:
        lang = self.result.lang
        rows = []
        for number, step in enumerate(self.steps, start=1):
            mark = "✓" if step.passed else "✗"
            colour = "#1a7f37" if step.passed else "#cf222e"
            detail = "" if step.passed else _failure_html(step, lang)
            rows.append(f'<tr><td style="color:{colour};font-weight:bold">{mark}</td>'
                        f"<td>{number}. {html.escape(step.title)}</td><td>{step.score}/{step.max_score}</td>"
                        f"<td>{detail}</td></tr>")
        heading = text("magic.heading_live" if self.live else "magic.heading_notebook", lang,
                       score=sum(step.score for step in self.steps), total=sum(step.max_score for step in self.steps))
        network = _network_html(self.result, lang) if self.result.network else ""
        return (f'<div class="lstm-grader-check"><p><strong>{html.escape(heading)}</strong></p>'
                f'<table><tbody>{"".join(rows)}</tbody></table>{network}'
                f'<p style="font-size:smaller">{html.escape(text("magic.reference", lang))}</p></div>')

    def __repr__(self) -> str:
        lang = self.result.lang
        lines = [text("magic.heading_live" if self.live else "magic.heading_notebook", lang,
                      score=sum(step.score for step in self.steps), total=sum(step.max_score for step in self.steps))]
        for number, step in enumerate(self.steps, start=1):
            lines.append(f"{'✓' if step.passed else '✗'} {number}. {step.title}  {step.score}/{step.max_score}")
            if not step.passed:
                failed = _first_failed(step, lang)
                lines.append(f"    {step.reason}")
                if failed is not None and failed.explain:
                    lines.append(f"    {failed.explain}")
                if step.hint:
                    lines.append(f"    {text('magic.hint', lang)}: {step.hint}")
        lines.append(text("magic.reference", lang))
        return "\n".join(lines)


def _first_failed(step: StepResult, lang: str):
    """The first failed check, whose explanation follows the reason; none when the step's code ran
    none of its lines (its failed checks only restate the reason, and their advice would not fit)."""
    if ran_nothing(step.error, text("note.placeholder", lang) in step.notes):
        return None
    return next((check for check in step.checks if not check.passed), None)


def _failure_html(step: StepResult, lang: str) -> str:
    failed = _first_failed(step, lang)
    parts = [f"<div>{html.escape(step.reason)}</div>"]
    if failed is not None and failed.explain:
        parts.append(f"<div>{html.escape(failed.explain)}</div>")
    if step.hint:
        parts.append(f"<div><em>{html.escape(text('magic.hint', lang))}:</em> {html.escape(step.hint)}</div>")
    return "".join(parts)


def _network_html(result: GradeResult, lang: str) -> str:
    def cell(view) -> str:
        if view is None:
            return "—"
        shown = f"{view.type}({view.units})" if view.units is not None else view.type
        return html.escape(f"{shown}  {view.output_shape or '?'}  {view.params if view.params is not None else '?'}")

    rows = "".join(f"<tr><td>{'≠' if row.differs and row.carried is None else '='}</td>"
                   f"<td>{cell(row.actual)}</td><td>{cell(row.expected)}</td></tr>" for row in result.network)
    return (f"<table><thead><tr><th></th><th>{html.escape(text('report.yours', lang))}</th>"
            f"<th>{html.escape(text('report.expected', lang))}</th></tr></thead><tbody>{rows}</tbody></table>")


HISTORY_CELLS = 200  # the kernel's last cells looked at for a placeholder, each up to CELL_CHARS
CELL_CHARS = 100_000
FOLLOW_SECONDS = 0.2  # how often `%grade --notebook` looks at what its grading is doing


@dataclass(frozen=True)
class _Doing:
    """What the grading is doing (grader/grade.py, OnProgress), as `%grade --notebook` shows it."""

    doing: str
    done: int
    total: int

    def __repr__(self) -> str:
        return f"{self.doing} {self.done}/{self.total}" if self.total else f"{self.doing}…"

    def _repr_html_(self) -> str:
        bar = f'<progress value="{self.done}" max="{self.total}"></progress>' if self.total else "<progress></progress>"
        return f'<div class="lstm-grader-progress">{bar} {html.escape(repr(self))}</div>'


class _Shown:
    """`%grade`'s one output: with --notebook, what the grading is doing while it runs (each thing
    it does shown at least once), then, in the same place, the verdicts."""

    def __init__(self) -> None:
        self._heard: SimpleQueue[_Doing] = SimpleQueue()
        self._handle = None

    def hear(self, doing: str, done: int, total: int) -> None:
        """Called from the grading's thread: queued, and shown from the kernel's own."""
        self._heard.put(_Doing(doing, done, total))

    def follow(self, future: Future):
        """The grading's result, once it is done; what it does shown until then."""
        while not future.done():
            wait([future], timeout=FOLLOW_SECONDS)
            self._show_heard()
        return future.result()

    def _show_heard(self) -> None:
        heard: list[_Doing] = []
        while True:
            try:
                doing = self._heard.get_nowait()
            except Empty:
                break
            if heard and heard[-1].doing == doing.doing:  # the count went on: its latest is enough
                heard[-1] = doing
            else:
                heard.append(doing)
        for doing in heard:
            self.show(doing)

    def show(self, shown: object) -> None:
        from IPython.display import display
        if self._handle is None:
            self._handle = display(shown, display_id=True)
        else:
            self._handle.update(shown)
