"""Which code belongs to which step of the exercise.

Our own notebooks mark each answer cell with `{"lstm_grader": {"step": N}}`; a cell without the
mark belongs to the marked cell above it (students add cells below the given one). Notebooks
without marks are read statement by statement: layer, model and summary calls are aligned to the
steps the spec expects, and a cell that holds several steps is split between its statements.
When the code cannot be mapped with confidence the map says so, and the final model is judged
as a whole instead. What the analysis reads of a notebook is bounded (CODE_CHARS, IPYTHON_CHARS):
a cell past the bounds is taken as one block, like a cell that does not parse.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field, replace

from IPython.core.inputtransformer2 import TRANSFORM_LOOP_LIMIT, TransformerManager
from nbformat import NotebookNode

from grader.align import align
from grader.spec import ExerciseSpec

METADATA_KEY = "lstm_grader"
_INPUT_LAYERS = {"Input", "InputLayer"}
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
LINE_END = re.compile(r"\r\n|\r|\n")  # where Python's parser ends a line (not str.splitlines's \f, \x1c, ...)

# What the grader's own analysis of one notebook reads, so that no notebook makes it run for long:
# a cell past either bound is not read statement by statement but taken as one block, as a cell
# that does not parse is (README, Command line), and the student is told.
CODE_CHARS = 2**17  # the notebook's code read statement by statement, in notebook order
CELL_CHARS = 200  # what reading one more cell costs beyond its code, counted as characters of it
IPYTHON_CHARS = 2**19  # text IPython's tokenizer goes through to turn magics and shell commands into calls
TOO_LARGE = "too_large"  # why a cell was not read: past CODE_CHARS
TOO_MUCH_IPYTHON = "too_much_ipython"  # past IPYTHON_CHARS


@dataclass(frozen=True)
class Chunk:
    step_id: str
    cell_index: int
    source: str
    whole_cell: bool


@dataclass(frozen=True)
class StepMap:
    method: str  # "metadata", "content", or "none" when the code could not be mapped
    chunks: dict[str, tuple[Chunk, ...]] = field(default_factory=dict)
    unread: dict[int, str] = field(default_factory=dict)  # cells taken as one block: why (TOO_LARGE, ...)

    @property
    def confident(self) -> bool:
        return self.method != "none"

    def source(self, step_id: str) -> str:
        return "\n".join(chunk.source for chunk in self.chunks.get(step_id, ()))

    def cells(self, step_id: str) -> list[int]:
        return sorted({chunk.cell_index for chunk in self.chunks.get(step_id, ())})

    def isolated(self, step_id: str) -> bool:
        """True when the step's code is whole cells, so the notebook's own run shows its effect."""
        chunks = self.chunks.get(step_id, ())
        return bool(chunks) and all(chunk.whole_cell for chunk in chunks)


@dataclass(frozen=True)
class Event:
    kind: str  # "create", "layer", "compile", "summary", or "unknown" for a cell that does not parse
    layer_type: str | None = None
    units: int | None = None
    return_sequences: bool | None = None


@dataclass(frozen=True)
class Parsed:
    """A cell's code as Python (IPython's syntax turned into calls), and its top-level statements."""

    code: str
    body: list[ast.stmt]


@dataclass(frozen=True)
class CellCode:
    """A code cell as the analysis reads it."""

    index: int
    source: str
    parsed: Parsed | None  # None: not Python even with IPython's syntax turned, or not read
    unread: str | None = None  # why the cell was taken as one block without reading it (TOO_LARGE, ...)


class Unread(Exception):
    """Reading a cell would take the analysis past one of its bounds."""


@dataclass
class Reading:
    """What is left of one notebook's IPython bound, spent as its cells are parsed."""

    ipython_chars: int = IPYTHON_CHARS
    manager: TransformerManager = field(default_factory=TransformerManager, repr=False)

    def cell(self, index: int, source: str) -> CellCode:
        try:
            return CellCode(index, source, self.parse(source))
        except Unread:
            return CellCode(index, source, None, TOO_MUCH_IPYTHON)

    def parse(self, source: str) -> Parsed | None:
        """`source` as IPython runs it (TransformerManager.transform_cell: magics and shell
        commands turned into calls), parsed; None when even so it is not Python. IPython tokenizes
        the whole cell again for each magic it turns: that is what IPYTHON_CHARS bounds (Unread
        past it). Python needs no turning (IPython's token transforms find nothing in it), so it
        is only compiled."""
        lines = (source if source.endswith("\n") else source + "\n").splitlines(keepends=True)
        try:
            for transform in self.manager.cleanup_transforms + self.manager.line_transforms:
                lines = transform(lines)
            code = "".join(lines)
            try:
                return Parsed(code, _body(code))
            except (SyntaxError, ValueError):  # IPython's syntax, or not Python
                pass
            turned = False
            for _ in range(TRANSFORM_LOOP_LIMIT):
                self._spend(len(code))
                changed, lines = self.manager.do_one_token_transform(lines)
                if not changed:
                    return Parsed(code, _body(code)) if turned else None
                code, turned = "".join(lines), True
            return None  # still changing after IPython's own number of turns: it gives up too
        except Unread:
            raise
        except Exception:  # not Python, too deep to compile, or IPython failing on it: as a cell that does not parse
            return None

    def _spend(self, chars: int) -> None:
        if chars > self.ipython_chars:
            raise Unread
        self.ipython_chars -= chars


def _body(code: str) -> list[ast.stmt]:
    return compile(code, "<cell>", "exec", _PARSE_FLAGS).body


def read_cells(nb: NotebookNode) -> list[CellCode]:
    """The notebook's code cells as the analysis reads them, within its bounds."""
    reading = Reading()
    return [reading.cell(index, source) if fits else CellCode(index, source, None, TOO_LARGE)
            for index, source, fits in _sized_cells(nb)]


def readable_cells(nb: NotebookNode) -> list[tuple[int, str]]:
    """The code cells within CODE_CHARS: those the analysis reads statement by statement (unless
    their IPython syntax is past its own bound)."""
    return [(index, source) for index, source, fits in _sized_cells(nb) if fits]


def _sized_cells(nb: NotebookNode) -> list[tuple[int, str, bool]]:
    """Each code cell, and whether it fits in what is left of CODE_CHARS after the cells before it
    that did (a cell that does not leaves the rest to the cells after it)."""
    left = CODE_CHARS
    sized = []
    for index, source in code_cells(nb):
        cost = len(source) + CELL_CHARS
        sized.append((index, source, cost <= left))
        left -= cost if cost <= left else 0
    return sized


def code_cells(nb: NotebookNode) -> list[tuple[int, str]]:
    return [(index, cell.source) for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and cell.source.strip()]


def map_steps(nb: NotebookNode, spec: ExerciseSpec) -> StepMap:
    """By the cells' marks, unless a marked cell holds more than its step (a whole model written
    in the first answer cell): then, like an unmarked notebook, statement by statement."""
    cells = read_cells(nb)
    marked = _map_by_metadata(nb, spec)
    mapped = marked if marked is not None and not _overfilled(marked, cells, spec) else _map_by_content(cells, spec)
    unread = {cell.index: cell.unread for cell in cells if cell.unread}
    return replace(mapped, unread=unread) if unread else mapped


def _overfilled(marked: StepMap, cells: list[CellCode], spec: ExerciseSpec) -> bool:
    parsed = {cell.index: cell.parsed for cell in cells}
    for step in spec.steps:
        for chunk in marked.chunks.get(step.id, ()):  # whole cells
            events = [event for _, events, _ in _statements(parsed[chunk.cell_index], spec) or ()
                      for event in events]
            layers = sum(event.kind == "layer" for event in events)
            summary = any(event.kind == "summary" for event in events)
            if layers > len(step.layers) or (summary and not step.prints_summary):
                return True
    return False


def _map_by_metadata(nb: NotebookNode, spec: ExerciseSpec) -> StepMap | None:
    numbers = {step.number: step.id for step in spec.steps}
    chunks: dict[str, list[Chunk]] = {}
    current = None
    for index, cell in enumerate(nb.cells):
        mark = cell.get("metadata", {}).get(METADATA_KEY, {})
        if isinstance(mark, dict) and mark.get("step") in numbers:
            current = numbers[mark["step"]]
        if current and cell.cell_type == "code" and cell.source.strip():
            chunks.setdefault(current, []).append(Chunk(current, index, cell.source, True))
    if current is None:
        return None
    return StepMap("metadata", {step: tuple(found) for step, found in chunks.items()})


def _map_by_content(cells: list[CellCode], spec: ExerciseSpec) -> StepMap:
    parsed = [(cell.index, _statements(cell.parsed, spec)) for cell in cells]
    items = []  # (cell position, statement position or None, event)
    for position, (_, statements) in enumerate(parsed):
        if statements is None:
            items.append((position, None, Event("unknown")))
            continue
        for number, (_, events, nested) in enumerate(statements):
            if nested and any(event.kind == "layer" for event in events):
                return StepMap("none")
            items.extend((position, number, event) for event in events)
    expected = _expected_events(spec)
    matches = _unordered_calls(items, expected,
                               align([item[2] for item in items], [event for _, event in expected], _event_cost))
    if not any(match is not None and item[2].kind == "layer" for item, match in zip(items, matches)):
        return StepMap("none")
    steps_of: dict[tuple[int, int | None], set[str]] = {}
    for (position, number, _), match in zip(items, matches):
        if match is not None:
            steps_of.setdefault((position, number), set()).add(expected[match][0])
    if any(len(steps) > 1 for steps in steps_of.values()):
        return StepMap("none")  # one statement builds several steps at once
    chunks: dict[str, list[Chunk]] = {}
    for position, (_, statements) in enumerate(parsed):
        for chunk in _cell_chunks(cells[position], statements, position, steps_of):
            chunks.setdefault(chunk.step_id, []).append(chunk)
    return StepMap("content", {step: tuple(found) for step, found in chunks.items()})


def _unordered_calls(items, expected, matches: list[int | None]) -> list[int | None]:
    """`matches`, with a summary() or compile() call the in-order alignment left out given to the
    one step that asks for it and got none (Q11: each step is judged on its own code, so a summary
    cell run before the Dense cell, cells swapped, is still step 5's code)."""
    taken = set(matches)
    matches = list(matches)
    for position, item in enumerate(items):
        kind = item[2].kind
        if matches[position] is not None or kind not in ("summary", "compile"):
            continue
        free = [index for index, (_, event) in enumerate(expected) if event.kind == kind and index not in taken]
        asked = [index for index, (_, event) in enumerate(expected) if event.kind == kind]
        if len(asked) == 1 and free:
            matches[position] = free[0]
            taken.add(free[0])
    return matches


def _cell_chunks(cell: CellCode, statements, position, steps_of) -> list[Chunk]:
    index = cell.index
    if statements is None:
        step = steps_of.get((position, None))
        return [Chunk(next(iter(step)), index, cell.source, True)] if step else []
    owners = [next(iter(steps_of[(position, n)])) if (position, n) in steps_of else None
              for n in range(len(statements))]
    owners = _fill_owners(owners)
    if not any(owners):
        return []
    lines = LINE_END.split(cell.parsed.code)
    chunks = []
    start = 0
    for n in range(1, len(statements) + 1):
        if n == len(statements) or owners[n] != owners[start]:
            first = 1 if start == 0 else statements[start][0].lineno
            last = statements[n - 1][0].end_lineno
            chunks.append(Chunk(owners[start], index, "\n".join(lines[first - 1:last]),
                                whole_cell=len(set(owners)) == 1))
            start = n
    return chunks


def _fill_owners(owners: list[str | None]) -> list[str | None]:
    """Statements of no step belong to the next step's statement in the cell, else the last."""
    filled = list(owners)
    following = None
    for n in range(len(filled) - 1, -1, -1):
        following = filled[n] = filled[n] or following
    preceding = None
    for n, owner in enumerate(filled):
        preceding = filled[n] = owner or preceding
    return filled


def _expected_events(spec: ExerciseSpec) -> list[tuple[str, Event]]:
    expected = []
    for step in spec.steps:
        if step.creates_model:
            expected.append((step.id, Event("create")))
        for layer in step.layers:
            expected.append((step.id, Event("layer", layer.type, layer.units, layer.return_sequences)))
        if "compiled" in step.checks:
            expected.append((step.id, Event("compile")))
        if step.prints_summary:
            expected.append((step.id, Event("summary")))
    return expected


def _event_cost(actual: Event, expected: Event) -> float:
    if actual.kind == "unknown":
        return 0.9  # a cell that does not parse stands in for one missing step
    if actual.kind != expected.kind:
        return math.inf
    if actual.kind != "layer":
        return 0.0
    cost = 0.0 if actual.layer_type == expected.layer_type else 0.6
    if actual.units is not None and actual.units != expected.units:
        cost += 0.3
    if bool(actual.return_sequences) != bool(expected.return_sequences):
        cost += 0.05
    return cost


def _statements(parsed: Parsed | None, spec: ExerciseSpec):
    """Top-level statements with their events and whether they nest code; None if unparseable."""
    if parsed is None:
        return None
    return [(stmt, _events(stmt, spec.model_variable, spec.policy.pass_through), _is_compound(stmt))
            for stmt in parsed.body]


def _is_compound(stmt: ast.stmt) -> bool:
    return not isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign))


def _events(stmt: ast.stmt, model_variable: str, pass_through: frozenset[str] = frozenset()) -> list[Event]:
    found = []
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        name = callee_name(node)
        # On any name: a notebook may call its model otherwise (`regressor.add(...)`).
        on_model = isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
        if on_model and name == "add" and node.args and isinstance(node.args[0], ast.Call):
            found.append((node, _layer_event(node.args[0], pass_through)))
        elif on_model and name == "summary":
            found.append((node, Event("summary")))
        elif on_model and name == "compile":
            found.append((node, Event("compile")))
        elif name and name.endswith("Sequential"):
            found.append((node, Event("create")))
            if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                found.extend((item, _layer_event(item, pass_through)) for item in node.args[0].elts
                             if isinstance(item, ast.Call))
    found.sort(key=lambda pair: (pair[0].lineno, pair[0].col_offset))
    return [event for _, event in found if event is not None]


def _layer_event(call: ast.Call, pass_through: frozenset[str] = frozenset()) -> Event | None:
    name = callee_name(call)
    if name in _INPUT_LAYERS or name in pass_through:
        return None
    keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    units = keywords.get("units", call.args[0] if call.args else None)
    sequences = keywords.get("return_sequences")
    return Event("layer", name, _literal(units, int), _literal(sequences, bool))


def _literal(node, kind):
    value = node.value if isinstance(node, ast.Constant) else None
    return value if isinstance(value, kind) else None


def callee_name(call: ast.Call) -> str | None:
    """`f` of `f(...)` and of `x.f(...)`."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
