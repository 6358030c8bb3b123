"""`grade new-exercise`: an exercise generated from a solution grades the solution at full marks,
its own student notebook at 0, and a wrong answer on the step that is wrong; titles are cleaned of
what a spec cannot hold, and a failure leaves nothing behind (issue 17)."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.cli import main
from grader.layer_kinds import vocabulary
from grader.new_exercise import TITLE_CHARS, _printable
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


def solution_with(path, title: str, code: str) -> str:
    return notebook(path, [(title, "import keras\nfrom keras import layers\nmodel = keras.Sequential()\n"
                                    "model.add(keras.Input(shape=(4,)))\n" + code)])


def test_a_title_with_control_characters_is_cleaned_and_only_the_exercise_is_written(tmp_path, capsys):
    """A Markdown title with DEL, ESC and a bidi override once gave a spec that then failed to load,
    and left the half-written exercise behind."""
    title = "## 1. Dense\x7f 层 \x1b[31m\u202e"
    solution = solution_with(tmp_path / "solution.ipynb", title, "model.add(layers.Dense(3))")
    assert main(["new-exercise", solution, "--id", "dense_tiny", "--to", str(tmp_path / "dense_tiny")]) == 0
    folder = tmp_path / "dense_tiny"
    assert capsys.readouterr().out == (f"{folder}: spec.toml and dense_tiny.ipynb written; edit them, "
                                       f"then `grade check-spec {folder / 'spec.toml'}`\n")
    assert load_spec(folder / "spec.toml").steps[0].title == {"zh": "Dense 层 [31m", "en": "Dense 层 [31m"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dense_tiny", "solution.ipynb"]
    assert sorted(path.name for path in folder.iterdir()) == ["dense_tiny.ipynb", "spec.toml"]


def test_a_spec_that_does_not_load_leaves_nothing_behind(tmp_path, capsys):
    """A layer of the solution's own making is no kind the vocabulary knows: the spec is refused,
    in one line naming where it would have gone, and neither it nor the folders made for it remain."""
    code = "class Mine(layers.Layer):\n    def call(self, x):\n        return x\nmodel.add(Mine())"
    solution = solution_with(tmp_path / "solution.ipynb", "## 1. Mine", code)
    target = tmp_path / "new" / "course" / "mine"
    assert main(["new-exercise", solution, "--id", "mine", "--to", str(target)]) == 2
    known = ", ".join(sorted(vocabulary()))
    assert capsys.readouterr().err == (f"{target / 'spec.toml'}: steps[0].layers[0].type: 'Layer' is not a layer "
                                       f"kind of grader/layers.toml (known: {known})\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["solution.ipynb"]


def test_an_exercise_folder_that_holds_files_is_refused_before_anything_runs(tmp_path, capsys):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "spec.toml").write_text("mine")
    solution = solution_with(tmp_path / "solution.ipynb", "## 1. Dense", "model.add(layers.Dense(3))")
    assert main(["new-exercise", solution, "--id", "taken", "--to", str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: already exists and is not an empty folder; nothing written\n"
    assert [(path.name, path.read_text()) for path in target.iterdir()] == [("spec.toml", "mine")]


def test_titles_keep_what_a_reader_sees():
    assert _printable("2.\tGRU\x7f 层\u200b\ud800 \x85 end") == "2. GRU 层 end"
    assert _printable("x" * 1000) == "x" * TITLE_CHARS
