"""What the clean replay runs: each step's model-building statements and what they need.

The notebook's code is read as one program of top-level statements, in notebook order, each
belonging to the step whose code it is (grader/steps.py) or to none. A statement is kept when

- it builds the model: it binds or uses a model name (the spec's variable, or a name bound to it or
  to a new `Sequential`/`Model`), or calls a function whose body does; training and prediction
  (`model.fit(...)`, `model.predict(...)`, ...) alone do not count;
- it is an import, or a magic that brings code or files (`%run`, `%load_ext`, `%cd`, `%env`,
  `%%writefile`);
- it binds, or changes in place, a name that a later kept statement reads: `X = ...`,
  `def f(...)`, `cfg['units'] = 50`, `layers.append(...)`, `obj.attr = ...`, a call of a function
  that sets the name as a global.

- in a step that prints the summary, after its `summary()` call: a statement that shows what the
  summary wrote (`print(...)`, `display(...)`, `sys.stdout.write(...)`, a loop of those), as
  `summary(print_fn=...)` into a list or a file and printed next (Q10).

Everything else (other printing, plotting, training, installing input transformers, patching
IPython) is left out. A cell that does not parse is kept whole when it is a step's code, else left out; so
is a cell the analysis takes as one block, past its bounds (grader/steps.py, CODE_CHARS).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from nbformat import NotebookNode

from grader.spec import ExerciseSpec
from grader.steps import LINE_END, Reading, StepMap, Unread, callee_name, code_cells

# Calls on the model that train, predict or save: costly, and they build no layer.
NOT_BUILDING = frozenset({"fit", "fit_generator", "evaluate", "evaluate_generator", "predict",
                          "predict_generator", "predict_on_batch", "train_on_batch", "test_on_batch",
                          "save", "save_weights", "export"})
MODEL_CONSTRUCTORS = frozenset({"Sequential", "Model"})
# Magics kept like imports (they bring code, files or settings), and magics whose text is code.
ALWAYS_LINE_MAGICS = frozenset({"run", "load_ext", "cd", "env"})
ALWAYS_CELL_MAGICS = frozenset({"writefile", "file"})
CODE_MAGICS = frozenset({"time", "timeit", "prun", "capture"})

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Statement:
    source: str
    reads: frozenset[str]
    binds: frozenset[str]  # names bound or changed in place
    builds: bool  # builds the model: always kept
    always: bool  # an import, or a magic that brings code or files: always kept
    calls: frozenset[str] = frozenset()  # functions it reads that declare globals: calling one may set them
    declares: tuple[tuple[str, frozenset[str]], ...] = ()  # functions it defines that declare globals, and those
    shows: bool = False  # shows what a summary() before it wrote (Q10): kept


@dataclass(frozen=True)
class Unit:
    """The code of one cell that belongs to one step (or to none), as top-level statements."""

    cell_index: int
    step_id: str | None
    source: str
    statements: tuple[Statement, ...]
    parsed: bool


@dataclass(frozen=True)
class Part:
    """One run of the replay: what is kept of one unit. `source` is empty when nothing is."""

    cell_index: int
    step_id: str | None
    source: str


def replay_parts(units: list[Unit]) -> list[Part]:
    """The replay's runs, in notebook order: one per unit of a step, one per other unit that keeps code."""
    flags = iter(kept([statement for unit in units for statement in unit.statements]))
    parts = []
    for unit in units:
        keep = [next(flags) for _ in unit.statements]
        source = unit.source if unit.parsed and all(keep) else \
            "\n".join(s.source for s, k in zip(unit.statements, keep) if k)
        if unit.step_id is not None or source:
            parts.append(Part(unit.cell_index, unit.step_id, source))
    return parts


def unrunnable_steps(units: list[Unit]) -> set[str]:
    """The steps with code none of which can run anywhere: not one of their units compiles as
    Python, IPython's magics included (the untouched template's `model.add(<None>)`)."""
    parsed: dict[str, list[bool]] = {}
    for unit in units:
        if unit.step_id is not None:
            parsed.setdefault(unit.step_id, []).append(unit.parsed)
    return {step for step, units in parsed.items() if not any(units)}


def keeps_every_cell(nb: NotebookNode, parts: list[Part], given: frozenset[str] = frozenset()) -> bool:
    """Do the replay's runs hold every code cell whole, in order, and nothing else? Cells that
    are the exercise's own code, as its student notebook gives them (`given`: the self-check
    cell), count as kept: the exercise's code forges nothing."""
    cells = [(index, source) for index, source in code_cells(nb) if source.strip() not in given]
    return [(part.cell_index, part.source) for part in parts if part.source.strip() not in given] == cells


def kept(statements: list[Statement]) -> list[bool]:
    """Which statements the replay runs: those that build the model or are always kept, and every
    earlier one that binds or changes a name a kept statement reads, or calls a function that
    declares such a name global."""
    writes: dict[str, frozenset[str]] = {}
    for statement in statements:
        writes.update(statement.declares)
    writers: dict[str, list[str]] = {}  # a global, to the functions that declare it
    for function, names in writes.items():
        for name in names:
            writers.setdefault(name, []).append(function)
    needed: set[str] = set()
    needed_writers: set[str] = set()  # the functions that declare a needed name global
    keep = [False] * len(statements)
    for index in range(len(statements) - 1, -1, -1):
        statement = statements[index]
        if statement.builds or statement.always or statement.shows or statement.binds & needed \
                or statement.calls & needed_writers:
            keep[index] = True
            for name in statement.reads - needed:
                needed.add(name)
                needed_writers.update(writers.get(name, ()))
    return keep


def program(nb: NotebookNode, spec: ExerciseSpec, step_map: StepMap) -> list[Unit]:
    """The notebook's code as units of statements, in notebook order. The cells the step map took
    as one block (`unread`) are not read here either."""
    reading = Reading()
    raw = [(index, step, source, None if index in step_map.unread else _parse(source, reading))
           for index, step, source in _units(nb, spec, step_map)]
    trees = [stmt for *_, body in raw if body for stmt in body[1]]
    model = _model_names(trees, spec.model_variable)
    declares = {id(tree): _global_writes(tree) for tree in trees}
    writes = {function: names for tree in trees for function, names in declares[id(tree)].items()}
    summary_steps = {step.id for step in spec.steps if step.prints_summary}
    units = [_unit(index, step, source, body, _Names(model, writes, declares), reading)
             for index, step, source, body in raw]
    return [_showing_summary(unit) if unit.step_id in summary_steps else unit for unit in units]


_SHOWING = frozenset({"print", "display", "write", "writelines"})


def _showing_summary(unit: Unit) -> Unit:
    """`unit`, with the statements after its first summary() call that show text marked as kept."""
    statements, seen = [], False
    for statement in unit.statements:
        shows = seen and _shows_text(statement.source)
        seen = seen or ".summary(" in statement.source
        statements.append(replace(statement, shows=True) if shows else statement)
    return replace(unit, statements=tuple(statements))


def _shows_text(source: str) -> bool:
    """Is this statement a call that shows text, or a loop of nothing but such calls?"""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if len(tree.body) != 1:
        return False
    stmt = tree.body[0]
    if isinstance(stmt, ast.For):
        return all(_is_showing_call(inner) for inner in stmt.body)
    return _is_showing_call(stmt)


def _is_showing_call(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and callee_name(stmt.value) in _SHOWING


@dataclass(frozen=True)
class _Names:
    """What the whole program tells about the names one statement uses."""

    model: set[str]  # names bound to a model, and functions and classes that make or use one
    writes: dict[str, set[str]]  # functions that declare globals, and those globals
    declares: dict[int, dict[str, set[str]]]  # by id of a top-level statement: the part of `writes` it defines


def _units(nb: NotebookNode, spec: ExerciseSpec, step_map: StepMap) -> list[tuple[int, str | None, str]]:
    """Each code cell's chunks with their steps (in step order), or the whole cell with none."""
    by_cell: dict[int, list[tuple[str, str]]] = {}
    for step in spec.steps:
        for chunk in step_map.chunks.get(step.id, ()):
            by_cell.setdefault(chunk.cell_index, []).append((step.id, chunk.source))
    return [(index, step, text) for index, source in code_cells(nb)
            for step, text in by_cell.get(index, [(None, source)])]


def _unit(index: int, step: str | None, source: str, body: tuple[Code, list[ast.stmt]] | None,
          names: _Names, reading: Reading) -> Unit:
    if body is None:  # does not parse: the step's code is replayed as written, other code is not
        opaque = Statement(source, frozenset(), frozenset(), builds=step is not None, always=False)
        return Unit(index, step, source, (opaque,), parsed=False)
    code, stmts = body
    return Unit(index, step, source, tuple(_statement(code, stmt, step, names, reading) for stmt in stmts),
                parsed=True)


class Code:
    """A cell's Python code, to cut its statements out of by their positions. The line starts are
    found once: ast.get_source_segment splits the whole code again for each statement, one
    character at a time (hours for a few hundred statements beside a line of some MiB)."""

    def __init__(self, text: str) -> None:
        self.data = text.encode()
        self.starts = [0, *(match.end() for match in _LINE_END.finditer(self.data))]

    def segment(self, stmt: ast.stmt) -> str:
        """The statement's own text, with its decorators."""
        decorators = getattr(stmt, "decorator_list", [])
        start = self._offset(stmt.lineno, stmt.col_offset)
        text = self.data[start:self._offset(stmt.end_lineno, stmt.end_col_offset)]
        if decorators:
            text = self.data[self._offset(decorators[0].lineno, 0):self._offset(stmt.lineno, 0)] + text
        return text.decode(errors="replace")

    def _offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column


_LINE_END = re.compile(LINE_END.pattern.encode())  # as Python's parser (and ast.get_source_segment) ends lines


def _parse(source: str, reading: Reading) -> tuple[Code, list[ast.stmt]] | None:
    """The cell as Python (IPython's magics turned into calls) and its top-level statements."""
    try:
        parsed = reading.parse(source)
    except Unread:
        return None
    return (Code(parsed.code), parsed.body) if parsed is not None else None


def _statement(code: Code, stmt: ast.stmt, step: str | None, names: _Names, reading: Reading) -> Statement:
    source = code.segment(stmt)
    try:
        nodes = [stmt, *(_embedded(stmt, reading) if "_magic" in source else ())]  # run_line_magic, run_cell_magic
        reads = set().union(*(_reads(node) for node in nodes))
        binds = set().union(*(_binds(node) for node in nodes))
        builds = not isinstance(stmt, _DEFINITIONS) and any(_uses(node, names.model) for node in nodes)
    except RecursionError:  # nested too deep to read: kept if it is a step's code
        return Statement(source, frozenset(), frozenset(), builds=step is not None, always=False)
    declares = tuple((function, frozenset(globals_)) for function, globals_ in names.declares[id(stmt)].items())
    return Statement(source, frozenset(reads), frozenset(binds), builds, _always(stmt),
                     calls=frozenset(reads & names.writes.keys()), declares=declares)


# --- reading names ---

def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `node` in its own scope: a nested def, class, lambda or comprehension is
    yielded, but not entered."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, _SCOPES):
            stack.extend(ast.iter_child_nodes(current))


@dataclass(frozen=True)
class _Leave:
    """Where a walk leaves a scope, and the names the scope binds."""

    names: frozenset[str]


def _reads(node: ast.AST) -> set[str]:
    """The names `node` reads from the notebook's namespace (a function's own parameters and
    locals are not): each name read where no scope around it, within `node`, binds it. One walk,
    counting the scopes that bind each name."""
    found: set[str] = set()
    bound: Counter[str] = Counter()
    work: list[ast.AST | _Leave] = [node]
    while work:
        item = work.pop()
        if isinstance(item, _Leave):
            bound.subtract(item.names)
            continue
        scope = _scope(item)
        if scope is None:
            if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load) and not bound[item.id]:
                found.add(item.id)
            if isinstance(item, ast.AugAssign) and isinstance(item.target, ast.Name) and not bound[item.target.id]:
                found.add(item.target.id)
            work.extend(ast.iter_child_nodes(item))
            continue
        outside, inside, names = scope
        work.extend(outside)  # read in the scope around: after the inside, once its names are let go
        work.append(_Leave(names))
        work.extend(inside)
        bound.update(names)
    return found


def _scope(node: ast.AST) -> tuple[list[ast.AST], list[ast.AST], frozenset[str]] | None:
    """For a function, lambda or comprehension: what it reads in the scope around it (decorators,
    defaults), what it reads in its own, and the names its own scope binds. Annotations are not read."""
    if isinstance(node, _FUNCTIONS):
        outside = [*node.decorator_list, *node.args.defaults, *filter(None, node.args.kw_defaults)]
        return outside, list(node.body), frozenset(_parameters(node.args) | _locals(node.body))
    if isinstance(node, ast.Lambda):
        return list(node.args.defaults), [node.body], frozenset(_parameters(node.args))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        targets = _union(_stored(generator.target) for generator in node.generators)
        return [], list(ast.iter_child_nodes(node)), frozenset(targets)
    return None


def _binds(node: ast.AST) -> set[str]:
    """The names `node` binds or changes in place in its own scope."""
    names: set[str] = set()
    for inner in _own_nodes(node):
        _add_bound(inner, names)
        names |= _changed(inner)
    return names


def _bound(node: ast.AST) -> set[str]:
    """The names `node` binds in its own scope: assigned, deleted, defined or imported."""
    names: set[str] = set()
    for inner in _own_nodes(node):
        _add_bound(inner, names)
    return names


def _add_bound(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        names.add(node.id)
    elif isinstance(node, _DEFINITIONS):
        names.add(node.name)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names |= {alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*"}


def _changed(node: ast.AST) -> set[str]:
    """Names changed in place: `x[k] = v`, `x.a = v`, `x.a += v`, `del x[k]`, or `x.method(...)`
    standing as a statement."""
    if isinstance(node, (ast.Assign, ast.Delete)):
        return _union(_roots(target) for target in node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return _roots(node.target)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        root = _root(node.value.func.value)
        return {root} if root else set()
    return set()


def _roots(target: ast.AST) -> set[str]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return _union(_roots(item) for item in target.elts)
    if isinstance(target, ast.Starred):
        return _roots(target.value)
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        root = _root(target.value)
        return {root} if root else set()
    return set()


def _root(node: ast.AST) -> str | None:
    """`x` of `x`, `x.a`, `x[k].b`; None through a call (`f().a`)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _stored(target: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}


def _parameters(args: ast.arguments) -> set[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {arg.arg for arg in every if arg is not None}


def _locals(body: list[ast.stmt]) -> set[str]:
    declared = {name for stmt in body for node in _own_nodes(stmt)
                if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
    return _union(_bound(stmt) for stmt in body) - declared


def _union(sets: Iterable[set[str]]) -> set[str]:
    return set().union(*sets)


# --- the model ---

def _model_names(trees: list[ast.stmt], variable: str) -> set[str]:
    """The names bound to a model, and the functions and classes that make or use one: the spec's
    variable; every name assigned one of these names, a new Sequential/Model, or what one of them
    returns (`m = build_model()`, `net = Forecaster()`); every function or class whose body uses
    one of them or makes a new model. The smallest such set: what its seeds lead to, in one walk
    of the code (an alias chain written backwards made a loop over the code once per alias)."""
    seeds = {variable}
    leads: dict[str, set[str]] = {}  # a name, to the names that are model names once it is one
    for node in (node for tree in trees for node in _own_nodes(tree)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {target.id for target in targets if isinstance(target, ast.Name)}
            if isinstance(node.value, ast.Call) and callee_name(node.value) in MODEL_CONSTRUCTORS:
                seeds |= names
            elif (source := _model_source(node.value)) is not None:
                leads.setdefault(source, set()).update(names)
        elif isinstance(node, _DEFINITIONS):
            if any(_constructs_model(stmt) for stmt in node.body):
                seeds.add(node.name)
            for name in _used_names(node.body):
                leads.setdefault(name, set()).add(node.name)
    found, waiting = set(seeds), list(seeds)
    while waiting:
        for name in leads.get(waiting.pop(), ()):
            if name not in found:
                found.add(name)
                waiting.append(name)
    return found


def _model_source(value: ast.AST) -> str | None:
    """The name that makes `value` a model when it is a model name: `m` of `m`, `f` of `f(...)`."""
    if isinstance(value, ast.Name):
        return value.id
    return callee_name(value) if isinstance(value, ast.Call) else None


def _used_names(body: list[ast.stmt]) -> set[str]:
    """The names `_uses` looks at in `body`."""
    return {inner.id for stmt in body for inner in _using(stmt)}


def _constructs_model(node: ast.AST) -> bool:
    return any(isinstance(inner, ast.Call) and callee_name(inner) in MODEL_CONSTRUCTORS for inner in ast.walk(node))


def _uses(node: ast.AST, names: set[str]) -> bool:
    """Does `node` use one of `names`, other than to train, predict or save (`model.fit(...)`)?"""
    return any(inner.id in names for inner in _using(node))


def _using(node: ast.AST) -> list[ast.Name]:
    """The names in `node` but those it only trains, predicts or saves with (`model.fit(...)`)."""
    names: list[ast.Name] = []
    skipped: set[int] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            names.append(inner)
        elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                and inner.func.attr in NOT_BUILDING and isinstance(inner.func.value, ast.Name):
            skipped.add(id(inner.func.value))
    return [name for name in names if id(name) not in skipped]


def _global_writes(tree: ast.stmt) -> dict[str, set[str]]:
    """For each function `tree` defines that declares globals, the names it declares: calling it may set them."""
    writes: dict[str, set[str]] = {}
    for node in _own_nodes(tree):
        if isinstance(node, _FUNCTIONS):
            names = {name for inner in ast.walk(node) if isinstance(inner, ast.Global) for name in inner.names}
            if names:
                writes[node.name] = names
    return writes


# --- imports and magics ---

def _always(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    magic = _magic(stmt.value) if isinstance(stmt, ast.Expr) else None
    return magic is not None and (magic[0], magic[1]) in (
        {("run_line_magic", name) for name in ALWAYS_LINE_MAGICS}
        | {("run_cell_magic", name) for name in ALWAYS_CELL_MAGICS})


def _magic(node: ast.AST) -> tuple[str, str, str] | None:
    """(kind, name, code) of `get_ipython().run_line_magic(name, line)` or
    `.run_cell_magic(name, line, body)`; the code is the line, or the body."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("run_line_magic", "run_cell_magic")):
        return None
    texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    if len(texts) != len(node.args) or len(texts) < 2:
        return None
    return node.func.attr, texts[0], texts[-1]


def _embedded(stmt: ast.stmt, reading: Reading) -> list[ast.stmt]:
    """The code that a magic in `stmt` runs (`%time model.add(...)`, a `%%time` cell)."""
    found = []
    for node in ast.walk(stmt):
        magic = _magic(node)
        if magic is not None and magic[1] in CODE_MAGICS:
            parsed = _parse(magic[2], reading)
            found.extend(parsed[1] if parsed else [])
    return found
