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

Everything else (printing, plotting, training, installing input transformers, patching IPython)
is left out. A cell that does not parse is kept whole when it is a step's code, else left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode

from grader.spec import ExerciseSpec
from grader.steps import StepMap, callee_name, code_cells

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
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class Statement:
    source: str
    reads: frozenset[str]
    binds: frozenset[str]  # names bound or changed in place
    builds: bool  # builds the model: always kept
    always: bool  # an import, or a magic that brings code or files: always kept


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
    earlier one that binds or changes a name a kept statement reads."""
    needed: set[str] = set()
    keep = [False] * len(statements)
    for index in range(len(statements) - 1, -1, -1):
        statement = statements[index]
        if statement.builds or statement.always or statement.binds & needed:
            keep[index] = True
            needed |= statement.reads
    return keep


def program(nb: NotebookNode, spec: ExerciseSpec, step_map: StepMap) -> list[Unit]:
    """The notebook's code as units of statements, in notebook order."""
    raw = [(index, step, source, _parse(source)) for index, step, source in _units(nb, spec, step_map)]
    trees = [stmt for *_, body in raw if body for stmt in body[1]]
    model: set[str] = set()
    while True:  # names bound to a model, and functions and classes that make or use one
        grown = _model_names(trees, spec.model_variable, model)
        grown |= _model_functions(trees, grown)
        if grown == model:
            break
        model = grown
    writes = _global_writes(trees)
    return [_unit(index, step, source, body, model, writes) for index, step, source, body in raw]


def _units(nb: NotebookNode, spec: ExerciseSpec, step_map: StepMap) -> list[tuple[int, str | None, str]]:
    """Each code cell's chunks with their steps (in step order), or the whole cell with none."""
    by_cell: dict[int, list[tuple[str, str]]] = {}
    for step in spec.steps:
        for chunk in step_map.chunks.get(step.id, ()):
            by_cell.setdefault(chunk.cell_index, []).append((step.id, chunk.source))
    return [(index, step, text) for index, source in code_cells(nb)
            for step, text in by_cell.get(index, [(None, source)])]


def _unit(index: int, step: str | None, source: str, body: tuple[str, list[ast.stmt]] | None,
          model: set[str], writes: dict[str, set[str]]) -> Unit:
    if body is None:  # does not parse: the step's code is replayed as written, other code is not
        opaque = Statement(source, frozenset(), frozenset(), builds=step is not None, always=False)
        return Unit(index, step, source, (opaque,), parsed=False)
    code, stmts = body
    return Unit(index, step, source, tuple(_statement(code, stmt, step, model, writes) for stmt in stmts),
                parsed=True)


def _parse(source: str) -> tuple[str, list[ast.stmt]] | None:
    """The cell as Python (IPython's magics turned into calls) and its top-level statements."""
    try:
        code = TransformerManager().transform_cell(source)
        return code, compile(code, "<cell>", "exec", _PARSE_FLAGS).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _statement(code: str, stmt: ast.stmt, step: str | None, model: set[str],
               writes: dict[str, set[str]]) -> Statement:
    source = _segment(code, stmt)
    try:
        nodes = [stmt, *_embedded(stmt)]
        reads = set().union(*(_reads(node) for node in nodes))
        binds = set().union(*(_binds(node) for node in nodes))
        binds |= {name for function in reads & writes.keys() for name in writes[function]}
        builds = not isinstance(stmt, _DEFINITIONS) and any(_uses(node, model) for node in nodes)
    except RecursionError:  # nested too deep to read: kept if it is a step's code
        return Statement(source, frozenset(), frozenset(), builds=step is not None, always=False)
    return Statement(source, frozenset(reads), frozenset(binds), builds, _always(stmt))


def _segment(code: str, stmt: ast.stmt) -> str:
    """The statement's own text, with its decorators."""
    text = ast.get_source_segment(code, stmt) or ""
    decorators = getattr(stmt, "decorator_list", [])
    if decorators:
        lines = code.splitlines(keepends=True)
        text = "".join(lines[decorators[0].lineno - 1:stmt.lineno - 1]) + text
    return text


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


def _reads(node: ast.AST) -> set[str]:
    """The names `node` reads from the notebook's namespace (a function's own parameters and
    locals are not)."""
    if isinstance(node, _FUNCTIONS):
        outside = [*node.decorator_list, *node.args.defaults, *filter(None, node.args.kw_defaults)]
        inside = _union(_reads(stmt) for stmt in node.body) - _parameters(node.args) - _locals(node.body)
        return _union(_reads(item) for item in outside) | inside
    if isinstance(node, ast.Lambda):
        return _union(_reads(item) for item in node.args.defaults) | (_reads(node.body) - _parameters(node.args))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        targets = _union(_stored(generator.target) for generator in node.generators)
        return _union(_reads(child) for child in ast.iter_child_nodes(node)) - targets
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    extra = {node.target.id} if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) else set()
    return extra | _union(_reads(child) for child in ast.iter_child_nodes(node))


def _binds(node: ast.AST) -> set[str]:
    """The names `node` binds or changes in place in its own scope."""
    names = _bound(node)
    for inner in _own_nodes(node):
        names |= _changed(inner)
    return names


def _bound(node: ast.AST) -> set[str]:
    """The names `node` binds in its own scope: assigned, deleted, defined or imported."""
    names: set[str] = set()
    for inner in _own_nodes(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, (ast.Store, ast.Del)):
            names.add(inner.id)
        elif isinstance(inner, _DEFINITIONS):
            names.add(inner.name)
        elif isinstance(inner, (ast.Import, ast.ImportFrom)):
            names |= {alias.asname or alias.name.split(".")[0] for alias in inner.names if alias.name != "*"}
    return names


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

def _model_names(trees: list[ast.stmt], variable: str, known: set[str] = frozenset()) -> set[str]:
    """The spec's variable, and every name assigned a model name, a new Sequential/Model, or what a
    function or class that makes one returns (`m = build_model()`, `net = Forecaster()`)."""
    names = {variable, *known}
    assigns = [node for tree in trees for node in _own_nodes(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))]
    grew = True
    while grew:
        grew = False
        for node in assigns:
            if node.value is not None and _makes_model(node.value, names):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                new = {target.id for target in targets if isinstance(target, ast.Name)} - names
                names |= new
                grew = grew or bool(new)
    return names


def _makes_model(value: ast.AST, names: set[str]) -> bool:
    if isinstance(value, ast.Name):
        return value.id in names
    return isinstance(value, ast.Call) and (callee_name(value) in MODEL_CONSTRUCTORS or callee_name(value) in names)


def _model_functions(trees: list[ast.stmt], names: set[str]) -> set[str]:
    """Functions and classes whose bodies use a model name or another such function."""
    definitions = [node for tree in trees for node in _own_nodes(tree) if isinstance(node, _DEFINITIONS)]
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for node in definitions:
            if node.name not in found and any(_uses(stmt, names | found) or _constructs_model(stmt)
                                              for stmt in node.body):
                found.add(node.name)
                grew = True
    return found


def _constructs_model(node: ast.AST) -> bool:
    return any(isinstance(inner, ast.Call) and callee_name(inner) in MODEL_CONSTRUCTORS for inner in ast.walk(node))


def _uses(node: ast.AST, names: set[str]) -> bool:
    """Does `node` use one of `names`, other than to train, predict or save (`model.fit(...)`)?"""
    skipped = {id(call.func.value) for call in ast.walk(node)
               if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
               and call.func.attr in NOT_BUILDING and isinstance(call.func.value, ast.Name)}
    return any(isinstance(inner, ast.Name) and inner.id in names and id(inner) not in skipped
               for inner in ast.walk(node))


def _global_writes(trees: list[ast.stmt]) -> dict[str, set[str]]:
    """For each function that declares globals, the names it declares: calling it may set them."""
    writes: dict[str, set[str]] = {}
    for tree in trees:
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


def _embedded(stmt: ast.stmt) -> list[ast.stmt]:
    """The code that a magic in `stmt` runs (`%time model.add(...)`, a `%%time` cell)."""
    found = []
    for node in ast.walk(stmt):
        magic = _magic(node)
        if magic is not None and magic[1] in CODE_MAGICS:
            parsed = _parse(magic[2])
            found.extend(parsed[1] if parsed else [])
    return found
