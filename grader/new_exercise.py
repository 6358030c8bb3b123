"""`grade new-exercise SOLUTION.ipynb --id NAME`: a first exercise from an instructor's solution.

The solution runs like any notebook (jailed, a probe after each cell). Each code cell that adds
layers, compiles the model or prints its summary becomes a step with the checks that show it: its
layers with the attributes the vocabulary compares (defaults left out), their parameters and
output shapes as Keras built them; points split evenly; the title from the markdown above the cell.
The student notebook is the solution with each answer line replaced by the placeholder. Both are
for the instructor to edit; `grade check-spec` validates the edited spec.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.kernel import KernelOptions, KernelSession, Limits, in_fresh_kernel
from grader.keras_runtime import AUTO, KerasRuntime
from grader.layer_kinds import kind
from grader.notebook import read_notebook
from grader.runs import CellRun
from grader.safe_write import write_text
from grader.snapshot import LayerState, Snapshot
from grader.spec import EXERCISES, Policy, SpecError, format_shape, load_spec
from grader.steps import METADATA_KEY, code_cells

# Settings left out of a generated spec when they have Keras's default value.
_DEFAULTS = {"use_bias": True, "mask_zero": False, "reset_after": True, "padding": "valid", "merge_mode": "concat",
             "return_sequences": False, "axis": -1, "momentum": 0.99, "epsilon": 0.001}
_DEFAULT_ACTIVATION = {"lstm": "tanh", "gru": "tanh", "simple_rnn": "tanh"}
TITLE_CHARS = 200  # a step's title is one short line; the rest of a longer one is cut
_ANSWER_LINE = re.compile(r"\.(add|compile|summary)\(|^\s*\w+\s*=\s*\w*(Sequential|Model)\(")


@dataclass
class Step:
    cell_index: int
    layers: list[LayerState] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    compiled: dict | None = None
    input_shape: tuple | None = None


def new_exercise(solution: Path, exercise_id: str, folder: Path | None = None, limits: Limits = Limits()) -> Path:
    """Write exercises/<id>/ (spec.toml and the student notebook) from `solution`; return the folder.
    All or nothing: a folder that already holds files is refused before anything runs, and the
    exercise is renamed into place only once its spec loads, so a failure leaves nothing behind."""
    target = folder or Path(str(EXERCISES)) / exercise_id
    if target.is_symlink() or target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target}: already exists and is not an empty folder; nothing written")
    nb = read_notebook(solution)
    runs = asyncio.run(_run(nb, limits))
    steps = _steps(runs)
    if not steps:
        raise ValueError(f"{solution}: no cell of it adds a layer, compiles the model or prints its summary")
    _write_all(target, {"spec.toml": _spec_text(exercise_id, nb, steps),
                        f"{exercise_id}.ipynb": nbformat.writes(_student_notebook(nb, steps))})
    return target


def _write_all(target: Path, files: dict[str, str]) -> None:
    """Write `files` into a new folder beside `target`, check the spec loads, then rename it to `target`;
    on any failure remove the new folder and any parent folder made for it."""
    made = next((path for path in reversed([target.parent, *target.parent.parents]) if not path.exists()), None)
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.parent / f".{target.name}.{secrets.token_hex(4)}.new"
    draft.mkdir()
    try:
        for name, content in files.items():
            write_text(draft / name, content)
        try:
            load_spec(draft / "spec.toml")  # what was written must load
        except SpecError as error:
            raise SpecError(str(error).replace(str(draft), str(target))) from None
        draft.rename(target)  # replaces an empty folder, never one with files
    except BaseException:
        shutil.rmtree(made or draft, ignore_errors=True)
        raise


async def _run(nb, limits: Limits) -> list[CellRun]:
    async def run_cells(kernel: KernelSession) -> list[CellRun]:
        async with kernel as session:
            return [await session.run(source, index) for index, source in code_cells(nb)]

    return await in_fresh_kernel(run_cells, KernelOptions(runtime=KerasRuntime.first_choice(AUTO, nb), limits=limits))


def _steps(runs: list[CellRun]) -> list[Step]:
    steps, seen, compiled = [], set(), None
    for run in runs:
        snapshot = run.snapshot or Snapshot(defined=False, model=None)
        model = snapshot.model
        step = Step(run.cell_index)
        if model and model.is_keras_model:
            step.layers = [layer for layer in model.layers if layer.id not in seen]
            seen |= {layer.id for layer in model.layers}
            if step.layers:
                step.checks.append("layers")
                step.input_shape = model.input_shape or model.build_shape
            if model.compiled and model.compiled != compiled:
                step.checks.append("compiled")
                step.compiled = compiled = model.compiled
            if model.id in snapshot.summary_calls:
                step.checks.append("summary")
        if step.checks:
            steps.append(step)
    return steps


def _spec_text(exercise_id: str, nb, steps: list[Step]) -> str:
    titles = _titles(nb)
    points = [100 // len(steps)] * len(steps)
    points[-1] += 100 - sum(points)
    lines = ["# Generated by `grade new-exercise` from a solution: edit the titles, hints and checks.",
             f"id = {json.dumps(exercise_id)}", 'model_variable = "model"',
             f"title.zh = {json.dumps(exercise_id)}", f"title.en = {json.dumps(exercise_id)}", ""]
    first = True
    for number, (step, share) in enumerate(zip(steps, points), start=1):
        title = titles.get(step.cell_index, f"Step {number}")
        lines += ["[[steps]]", f'id = "step{number}"', f"points = {share}",
                  f"title.zh = {json.dumps(title, ensure_ascii=False)}", f"title.en = {json.dumps(title, ensure_ascii=False)}",
                  'hint.zh = "请按题目要求完成这一步。"', 'hint.en = "Do this step as the task asks."',
                  f"checks = {json.dumps(step.checks)}"]
        if step.compiled:
            lines += [f"compile.{key} = {json.dumps(value)}" for key, value in step.compiled.items()]
        for layer in step.layers:
            lines += ["[[steps.layers]]", *_layer_lines(layer, step.input_shape if first else None)]
            first = False
        lines.append("")
    return "\n".join(lines)


def _layer_lines(layer: LayerState, input_shape: tuple | None) -> list[str]:
    layer_kind = kind(layer.keras_type)
    lines = [f"type = {json.dumps(layer.keras_type)}"]
    for name in layer_kind.attributes if layer_kind else ():
        value = layer.attributes.get(name)
        if value is None or _DEFAULTS.get(name, object()) == value:
            continue
        if name == "activation" and value in ("linear", _DEFAULT_ACTIVATION.get(layer_kind.family)):
            continue
        if name == "strides" and layer_kind.family == "pool" and value == layer.attributes.get("pool_size"):
            continue
        if name == "strides" and set(value) == {1}:
            continue
        if name == "layer":
            continue
        lines.append(f"{name} = {_toml_value(value)}")
    if input_shape is not None:
        lines.append(f'input_shape = "{format_shape(input_shape)}"')
    if layer.weight_params is not None:
        lines.append(f"params = {layer.weight_params}")
    if layer.output_shape is not None:
        lines.append(f'output_shape = "{format_shape(layer.output_shape)}"')
    return lines


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return json.dumps(value)


def _titles(nb) -> dict[int, str]:
    """Each code cell's title: the first line of the markdown cell above it, without its #s."""
    titles, last = {}, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.strip():
            line = _printable(cell.source.strip().splitlines()[0])
            last = re.sub(r"^\d+\s*[.、)]\s*", "", line.lstrip("#").strip())
        elif cell.cell_type == "code" and last:
            titles[index], last = last, None
    return titles


def _printable(line: str) -> str:
    """`line` without control, format, surrogate or unassigned characters (DEL, ESC, bidi overrides:
    what a spec refuses or a reader cannot see), runs of spaces made one, at most TITLE_CHARS long."""
    kept = "".join(ch for ch in line if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:TITLE_CHARS]


def _student_notebook(nb, steps: list[Step]):
    """The solution with its outputs cleared, each step's cell marked, and each answer line (a
    layer added, the model compiled or summarised) replaced by the placeholder."""
    student = nbformat.reads(nbformat.writes(nb), as_version=4)
    numbers = {step.cell_index: number for number, step in enumerate(steps, start=1)}
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if index in numbers:
            cell.metadata[METADATA_KEY] = {"step": numbers[index]}
            cell.source = "\n".join(_blank(line) for line in cell.source.splitlines())
    return student


def _blank(line: str) -> str:
    if not _ANSWER_LINE.search(line) or re.match(r"\s*model\s*=\s*Sequential\(\s*\)\s*$", line):
        return line
    indent = line[:len(line) - len(line.lstrip())]
    return f"{indent}{Policy().placeholder}"
