"""`grade new-exercise`: an exercise generated from a solution grades the solution at full marks,
its own student notebook at 0, and a wrong answer on the step that is wrong."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.cli import main
from grader.grade import grade_notebook
from grader.spec import load_spec
from grader.options import GradeOptions

IMPORTS = "import keras\nfrom keras import layers\nmodel = keras.Sequential()\n"
CELLS = [
    ("## 1. 词嵌入层", IMPORTS + "model.add(keras.Input(shape=(None,)))\nmodel.add(layers.Embedding(5000, 16))"),
    ("## 2. GRU 层", "model.add(layers.GRU(32))"),
    ("## 3. 输出层", "model.add(layers.Dense(1, activation='sigmoid'))"),
    ("## 4. 编译", "model.compile(loss='binary_crossentropy', optimizer='adam')"),
    ("## 5. 模型摘要", "model.summary()"),
]


def notebook(path, cells) -> str:
    nb = new_notebook()
    nb.cells = [cell for title, code in cells for cell in (new_markdown_cell(title), new_code_cell(code))]
    nbformat.write(nb, path)
    return str(path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("new_exercise")
    solution = notebook(folder / "solution.ipynb", CELLS)
    assert main(["new-exercise", solution, "--id", "gru_tiny", "--to", str(folder / "gru_tiny")]) == 0
    return folder


def test_the_spec_has_a_step_per_answer_cell_with_what_the_solution_built(generated):
    spec = load_spec(generated / "gru_tiny" / "spec.toml")
    assert [step.title["zh"] for step in spec.steps] == ["词嵌入层", "GRU 层", "输出层", "编译", "模型摘要"]
    assert [step.checks for step in spec.steps] == [("layers",), ("layers",), ("layers",), ("compiled",), ("summary",)]
    assert [step.points for step in spec.steps] == [20] * 5
    embedding, gru, dense = (step.layers[0] for step in spec.steps[:3])
    assert (embedding.type, embedding.attributes, embedding.input_shape, embedding.params) == (
        "Embedding", {"input_dim": 5000, "output_dim": 16}, (None, None), 80_000)
    assert (gru.type, gru.attributes, gru.params) == ("GRU", {"units": 32}, 3 * (32 * (16 + 32) + 2 * 32))
    assert dense.attributes == {"units": 1, "activation": "sigmoid"}
    assert spec.steps[3].setting("compile.loss") == "binary_crossentropy"


def test_the_solution_scores_full_marks_and_the_template_zero(generated):
    spec = generated / "gru_tiny" / "spec.toml"
    solution = grade_notebook(generated / "solution.ipynb", GradeOptions(exercise=spec, warm=True, lang="en"))
    assert (solution.score, [step.reason for step in solution.steps]) == (100, [""] * 5)
    template = grade_notebook(generated / "gru_tiny" / "gru_tiny.ipynb", GradeOptions(exercise=spec, warm=True, lang="en"))
    assert (template.score, template.status) == (0, "graded")
    assert all(step.reason.startswith("The code still contains <None>") for step in template.steps)


def test_a_wrong_answer_loses_its_own_step(generated):
    wrong = notebook(generated / "wrong.ipynb", [CELLS[0], ("## 2", "model.add(layers.GRU(64))"), *CELLS[2:]])
    result = grade_notebook(wrong, GradeOptions(exercise=generated / "gru_tiny" / "spec.toml", warm=True, lang="en"))
    assert [step.score for step in result.steps] == [20, 0, 20, 20, 20]
    assert result.steps[1].reason.startswith("units: expected 32, got 64")
