"""`grade new-exercise SOLUTION.ipynb --id NAME`: a first exercise from an instructor's solution.

The solution runs like any notebook (jailed, a probe after each cell). Each code cell that adds
layers, compiles the model or prints its summary becomes a step with the checks that show it: its
layers with the attributes the vocabulary compares (defaults left out), their parameters and
output shapes as Keras built them; points split evenly; the title from the markdown above the cell
and a first hint from what the step builds (and the markdown's first sentence). The exercise's
title is the notebook's first level-1 heading. A text the notebook holds in one language only is
written in the other as a text starting with TODO (PLACEHOLDER, NO_TITLE), which `grade
new-exercise` names on stderr. The student notebook is the solution with each answer line replaced
by the spec's placeholder (`<None>`), the shipped notebooks' self-check cell (`%load_ext grader`)
before its first code cell, and its exercise recorded in its metadata. Both are for the instructor
to edit; `grade check-spec` validates the edited spec.
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
from grader.messages import detect_language
from grader.notebook import EXERCISE_FIELD, notebook_texts, read_notebook
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
PLACEHOLDER = "TODO(translate): "  # before a text the notebook gives in the other language only
NO_TITLE = "TODO(title): "  # before the id, the title of an exercise whose notebook has no level-1 heading
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|(?<=[。！？])")
# The self-check cell of the shipped student notebooks, in each language.
_SELF_CHECK = {
    "zh": ("# 自查：安装了评分工具（lstm-grader）后，在任意单元格运行 %grade 就能检查已完成的步骤。\n"
           "try:\n    get_ipython().run_line_magic(\"load_ext\", \"grader\")\n"
           "    get_ipython().run_line_magic(\"grade\", \"--set --exercise {id}\")\n"
           "except ModuleNotFoundError:\n"
           "    print(\"没有安装评分工具 lstm-grader，所以不能用 %grade 自查（这不影响作业）。"
           "安装：pip install lstm-grader\")"),
    "en": ("# Self-check: with the grader (lstm-grader) installed, run %grade in any cell to check the steps "
           "you have done.\n"
           "try:\n    get_ipython().run_line_magic(\"load_ext\", \"grader\")\n"
           "    get_ipython().run_line_magic(\"grade\", \"--set --exercise {id}\")\n"
           "except ModuleNotFoundError:\n"
           "    print(\"The grader (lstm-grader) is not installed, so %grade is not available (your work is not "
           "affected). To install: pip install lstm-grader\")"),
}
_ANSWER_LINE = re.compile(r"\.(add|compile|summary)\(|^\s*\w+\s*=\s*\w*(Sequential|Model)\(")


@dataclass
class Step:
    cell_index: int
    layers: list[LayerState] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    compiled: dict | None = None
    input_shape: tuple | None = None


@dataclass(frozen=True)
class Markdown:
    """What the markdown above a code cell says: its first line as a title, its first sentence after that."""

    title: str
    sentence: str = ""


@dataclass(frozen=True)
class Generated:
    folder: Path
    placeholders: tuple[str, ...]  # the spec's keys whose text starts with TODO, for the instructor to write


def new_exercise(solution: Path, exercise_id: str, folder: Path | None = None, limits: Limits = Limits()) -> Generated:
    """Write exercises/<id>/ (spec.toml and the student notebook) from `solution`.
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
    lang = detect_language(notebook_texts(nb))
    text, placeholders = _spec_text(exercise_id, nb, steps)
    _write_all(target, {"spec.toml": text,
                        f"{exercise_id}.ipynb": nbformat.writes(_student_notebook(nb, steps, exercise_id, lang))})
    return Generated(target, placeholders)


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


def _spec_text(exercise_id: str, nb, steps: list[Step]) -> tuple[str, tuple[str, ...]]:
    """The spec's text, and the keys of its texts that are placeholders (PLACEHOLDER, NO_TITLE)."""
    above = _markdown_above(nb)
    points = [100 // len(steps)] * len(steps)
    points[-1] += 100 - sum(points)
    title = _exercise_title(nb)
    titles = {"title": _in_both(title) if title else {"zh": NO_TITLE + exercise_id, "en": NO_TITLE + exercise_id}}
    lines = ["# Generated by `grade new-exercise` from a solution: edit the titles, hints and checks;",
             "# a text starting with TODO is a placeholder to write.",
             f"id = {json.dumps(exercise_id)}", 'model_variable = "model"', *_text_lines("title", titles["title"]), ""]
    first = True
    for number, (step, share) in enumerate(zip(steps, points), start=1):
        markdown = above.get(step.cell_index)
        titles[f"steps[{number - 1}].title"] = step_title = _in_both(markdown.title) if markdown else _built_title(step)
        lines += ["[[steps]]", f'id = "step{number}"', f"points = {share}", *_text_lines("title", step_title),
                  *_text_lines("hint", _hint(step, markdown, first)), f"checks = {json.dumps(step.checks)}"]
        if step.compiled:
            lines += [f"compile.{key} = {json.dumps(value)}" for key, value in step.compiled.items()]
        for layer in step.layers:
            lines += ["[[steps.layers]]", *_layer_lines(layer, step.input_shape if first else None)]
            first = False
        lines.append("")
    placeholders = tuple(f"{key}.{lang}" for key, texts in titles.items() for lang, value in texts.items()
                         if value.startswith((PLACEHOLDER, NO_TITLE)))
    return "\n".join(lines), placeholders


def _text_lines(key: str, texts: dict[str, str]) -> list[str]:
    return [f"{key}.{lang} = {json.dumps(texts[lang], ensure_ascii=False)}" for lang in ("zh", "en")]


def _in_both(text: str) -> dict[str, str]:
    """`text` as a spec's {zh, en}: a title written in both ("词嵌入层 / Embedding layer") is split at
    the slash; one in a single language is that language's, and the other a placeholder."""
    parts = [part.strip() for part in re.split(r"\s+[/|｜]\s+", text)]
    if len(parts) == 2 and {detect_language([part]) for part in parts} == {"zh", "en"}:
        return {detect_language([part]): part for part in parts}
    lang = detect_language([text])
    return {lang: text, "en" if lang == "zh" else "zh": PLACEHOLDER + text}


def _exercise_title(nb) -> str | None:
    """The notebook's own title: its first level-1 heading (`# ...`)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if (heading := re.match(r"#\s+(.*\S)", line)) and (title := _printable(heading.group(1).rstrip("#"))):
                    return title
    return None


def _built_title(step: Step) -> dict[str, str]:
    """A step's title from what it builds, for a cell with no markdown above it."""
    if step.layers:
        types = ", ".join(dict.fromkeys(_shown_type(layer) for layer in step.layers))
        return {"zh": f"{types} 层", "en": f"{types} layer{'s' if len(step.layers) > 1 else ''}"}
    if step.compiled:
        return {"zh": "编译模型", "en": "Compile the model"}
    return {"zh": "模型摘要", "en": "Model summary"}


def _hint(step: Step, markdown: Markdown | None, first: bool) -> dict[str, str]:
    """A first hint in each language: what the step builds, with the settings the spec compares; then
    the first sentence of the markdown above the cell, in the hint of its language."""
    hint = {"zh": [], "en": []}
    for layer in step.layers:
        settings = _settings(layer)
        shown = ", ".join(f"{name}={_python(value)}" for name, value in settings.items())
        last_only = kind(layer.keras_type) and kind(layer.keras_type).recurrent and not settings.get("return_sequences")
        name = _shown_type(layer)
        hint["zh"].append(f"添加 {name} 层" + (f"：{shown}" if shown else "")
                          + ("，只返回最后一步的输出" if last_only else ""))
        hint["en"].append(f"Add {_article(name)} {name} layer" + (f": {shown}" if shown else "")
                          + (", returning only the last output" if last_only else ""))
        if first and step.input_shape is not None:
            hint["zh"][-1] += f"；模型的输入形状为 {format_shape(step.input_shape)}"
            hint["en"][-1] += f"; the model's input has shape {format_shape(step.input_shape)}"
            first = False
    if step.compiled:
        shown = ", ".join(f"{key}={_python(value)}" for key, value in step.compiled.items())
        hint["zh"].append(f"编译模型：{shown}")
        hint["en"].append(f"Compile the model: {shown}")
    if "summary" in step.checks:
        hint["zh"].append("打印模型摘要：model.summary()")
        hint["en"].append("Print the model's summary: model.summary()")
    texts = {"zh": "；然后".join(hint["zh"]) + "。", "en": "; then ".join(hint["en"]) + "."}
    if markdown and markdown.sentence:
        lang = detect_language([markdown.sentence])
        texts[lang] += (" " if lang == "en" else "") + markdown.sentence
    return texts


def _article(name: str) -> str:
    """'an' before a vowel, and before an acronym read letter by letter from one that sounds so (an LSTM)."""
    acronym = name[:2].isupper()
    return "an" if name[0] in "AEIOU" or acronym and name[0] in "FHLMNRSX" else "a"


def _shown_type(layer: LayerState) -> str:
    return f"{layer.keras_type}({layer.wrapped_type})" if layer.wrapped_type else str(layer.keras_type)


def _python(value: object) -> str:
    """A setting as it is written in Python: 'sigmoid', True, (3, 3)."""
    return repr(tuple(value) if isinstance(value, list) else value)


def _layer_lines(layer: LayerState, input_shape: tuple | None) -> list[str]:
    lines = [f"type = {json.dumps(layer.keras_type)}"]
    lines += [f"{name} = {_toml_value(value)}" for name, value in _settings(layer).items()]
    if input_shape is not None:
        lines.append(f'input_shape = "{format_shape(input_shape)}"')
    if layer.weight_params is not None:
        lines.append(f"params = {layer.weight_params}")
    if layer.output_shape is not None:
        lines.append(f'output_shape = "{format_shape(layer.output_shape)}"')
    return lines


def _settings(layer: LayerState) -> dict[str, object]:
    """The layer's settings a spec compares, those with Keras's default value left out."""
    layer_kind = kind(layer.keras_type)
    settings = {}
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
        settings[name] = value
    return settings


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return json.dumps(value)


def _markdown_above(nb) -> dict[int, Markdown]:
    """What the markdown cell above each code cell says: its first line, without its #s and number,
    as the title; the first sentence of the rest."""
    found, last = {}, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.strip():
            first, *rest = cell.source.strip().splitlines()
            title = re.sub(r"^\d+\s*[.、)]\s*", "", _printable(first).lstrip("#").strip())
            body = _printable(" ".join(line for line in rest if not line.lstrip().startswith("#")))
            last = Markdown(title, _SENTENCE_END.split(body, maxsplit=1)[0].strip())
        elif cell.cell_type == "code" and last:
            found[index], last = last, None
    return found


def _printable(line: str) -> str:
    """`line` without control, format, surrogate or unassigned characters (DEL, ESC, bidi overrides:
    what a spec refuses or a reader cannot see), runs of spaces made one, at most TITLE_CHARS long."""
    kept = "".join(ch for ch in line if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:TITLE_CHARS]


def _student_notebook(nb, steps: list[Step], exercise_id: str, lang: str):
    """The solution with its outputs cleared, each step's cell marked, each answer line (a layer
    added, the model compiled or summarised) replaced by the placeholder, the self-check cell before
    its first code cell and its exercise in its metadata (`grade` and `%grade` read it)."""
    student = nbformat.reads(nbformat.writes(nb), as_version=4)
    student.metadata[METADATA_KEY] = {EXERCISE_FIELD: exercise_id}
    numbers = {step.cell_index: number for number, step in enumerate(steps, start=1)}
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if index in numbers:
            cell.metadata[METADATA_KEY] = {"step": numbers[index]}
            cell.source = "\n".join(_blank(line) for line in cell.source.splitlines())
    first_code = next(index for index, cell in enumerate(student.cells) if cell.cell_type == "code")
    student.cells.insert(first_code, nbformat.v4.new_code_cell(_SELF_CHECK[lang].replace("{id}", exercise_id)))
    return student


def _blank(line: str) -> str:
    if not _ANSWER_LINE.search(line) or re.match(r"\s*model\s*=\s*Sequential\(\s*\)\s*$", line):
        return line
    indent = line[:len(line) - len(line.lstrip())]
    return f"{indent}{Policy().placeholder}"
