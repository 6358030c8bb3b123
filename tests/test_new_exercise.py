"""`grade new-exercise`: an exercise generated from a solution grades the solution at full marks,
its own student notebook at 0, and a wrong answer on the step that is wrong; titles are cleaned of
what a spec cannot hold, and a failure leaves nothing behind (issue 17). Titles and first hints come
from the notebook, and the student notebook loads the grader and names its exercise, which `grade`
and `%grade` then grade (issue 20)."""

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.cli import build_parser, chosen_exercise, main
from grader.layer_kinds import vocabulary
from grader.new_exercise import TITLE_CHARS, _article, _in_both, _printable
from grader.grade import grade_notebook
from grader.spec import EXERCISES, installed_exercises, load_spec
from grader.options import GradeOptions
from tests.test_magic import LOAD, checks, execute
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent

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
    assert load_spec(folder / "spec.toml").steps[0].title == {"zh": "Dense 层 [31m", "en": "TODO(translate): Dense 层 [31m"}
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


# --- An Embedding → LSTM → Dense solution as public code writes it (issue 20): titles and hints from
# the notebook, a student notebook tied to its exercise, `grade` and `%grade` grading that exercise.

SENTIMENT = [
    ("# Sentiment analysis of movie reviews with an LSTM\n\n"
     "We classify IMDB reviews as positive or negative: words become vectors, an LSTM reads them, "
     "a sigmoid gives the probability that the review is positive.",
     "import numpy as np\nimport keras\nfrom keras import layers\n\n"
     "vocab_size = 10000  # only the 10,000 most frequent words\nmaxlen = 200  # reviews cut or padded to 200 words\n"
     "embedding_dim = 64"),
    ("## 1. Embedding layer\n\nThe embedding turns each word index into a dense vector. Its weights are learnt.",
     "model = keras.Sequential(name=\"sentiment\")\nmodel.add(keras.Input(shape=(maxlen,), dtype=\"int32\"))\n"
     "model.add(layers.Embedding(input_dim=vocab_size, output_dim=embedding_dim))"),
    ("## 2. LSTM layer\n\nThe LSTM reads the whole review and keeps only its last output.", "model.add(layers.LSTM(64))"),
    ("## 3. Output layer", "model.add(layers.Dense(1, activation=\"sigmoid\"))"),
    ("## 4. Compile", "model.compile(optimizer=\"adam\", loss=\"binary_crossentropy\", metrics=[\"accuracy\"])"),
    ("## 5. Summary", "model.summary()"),
]
TITLE = "Sentiment analysis of movie reviews with an LSTM"


def run_grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(notebooks=1))


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """`grade new-exercise` as an instructor runs it: installed under exercises/ (removed afterwards)."""
    folder = tmp_path_factory.mktemp("sentiment")
    exercise_id = f"sentiment_lstm_{secrets.token_hex(3)}"
    solution = notebook(folder / "solution.ipynb", SENTIMENT)
    installed = Path(str(EXERCISES)) / exercise_id
    try:
        done = run_grade("new-exercise", solution, "--id", exercise_id)
        yield exercise_id, folder, installed, done
    finally:
        shutil.rmtree(installed, ignore_errors=True)


def test_titles_come_from_the_notebook_and_the_missing_language_is_a_named_placeholder(sentiment):
    exercise_id, _, installed, done = sentiment
    assert done.returncode == 0, done.stderr
    spec_path = installed / "spec.toml"
    assert done.stdout == (f"{installed}: spec.toml and {exercise_id}.ipynb written; edit them, "
                           f"then `grade check-spec {spec_path}`\n")
    assert done.stderr == (f"{spec_path}: 6 texts the notebook does not give are placeholders starting with TODO, "
                           "for you to write (title.zh, steps[0].title.zh, steps[1].title.zh, …)\n")
    spec = load_spec(exercise_id)
    assert spec.title == {"en": TITLE, "zh": f"TODO(translate): {TITLE}"}
    assert [step.title for step in spec.steps] == [
        {"en": title, "zh": f"TODO(translate): {title}"}
        for title in ("Embedding layer", "LSTM layer", "Output layer", "Compile", "Summary")]


def test_each_hint_says_what_the_step_builds_and_what_the_markdown_above_adds(sentiment):
    spec = load_spec(sentiment[0])
    assert [step.hint["en"] for step in spec.steps] == [
        "Add an Embedding layer: input_dim=10000, output_dim=64; the model's input has shape (None, 200). "
        "The embedding turns each word index into a dense vector.",
        "Add an LSTM layer: units=64, returning only the last output. "
        "The LSTM reads the whole review and keeps only its last output.",
        "Add a Dense layer: units=1, activation='sigmoid'.",
        "Compile the model: loss='binary_crossentropy', optimizer='Adam'.",
        "Print the model's summary: model.summary().",
    ]
    assert [step.hint["zh"] for step in spec.steps] == [
        "添加 Embedding 层：input_dim=10000, output_dim=64；模型的输入形状为 (None, 200)。",
        "添加 LSTM 层：units=64，只返回最后一步的输出。",
        "添加 Dense 层：units=1, activation='sigmoid'。",
        "编译模型：loss='binary_crossentropy', optimizer='Adam'。",
        "打印模型摘要：model.summary()。",
    ]


def test_the_student_notebook_loads_the_grader_and_names_its_exercise(sentiment):
    exercise_id, _, installed, _ = sentiment
    student = nbformat.read(installed / f"{exercise_id}.ipynb", 4)
    assert student.metadata["lstm_grader"] == {"exercise": exercise_id}
    assert [cell.cell_type for cell in student.cells[:3]] == ["markdown", "code", "code"]
    shipped = nbformat.read(ROOT / "exercises/gru_text/gru_text.en.ipynb", 4).cells[1].source  # the same cell
    assert student.cells[1].source == shipped.replace("--exercise gru_text", f"--exercise {exercise_id}")
    assert [cell.metadata.get("lstm_grader") for cell in student.cells if cell.cell_type == "code"] == [
        None, None, *({"step": number} for number in range(1, 6))]


def test_the_solution_scores_100_and_the_student_notebook_0_graded_by_its_own_metadata(sentiment):
    exercise_id, folder, installed, _ = sentiment
    solution = grade_notebook(folder / "solution.ipynb", GradeOptions(exercise=exercise_id, warm=True, lang="en"))
    assert (solution.score, solution.status, [step.reason for step in solution.steps]) == (100, "graded", [""] * 5)
    done = run_grade(str(installed / f"{exercise_id}.ipynb"), "--json", "-", "--no-report")  # no --exercise
    result = json.loads(done.stdout)
    assert (done.returncode, result["exercise"], result["score"], result["status"]) == (1, exercise_id, 0, "graded")
    assert [step["title"] for step in result["steps"]] == [
        "Embedding layer", "LSTM layer", "Output layer", "Compile", "Summary"]


def test_percent_grade_in_the_generated_notebook_grades_its_exercise(sentiment):
    """The untouched notebook, then each step answered, checked in the student's own kernel."""
    exercise_id, folder, installed, _ = sentiment
    nb = nbformat.read(installed / f"{exercise_id}.ipynb", 4)
    nb.cells += [new_code_cell("%grade --lang en"), *(new_code_cell(code) for _, code in SENTIMENT[1:]),
                 new_code_cell("%grade --lang en")]
    untouched, answered = checks(execute(nb, folder=installed))
    assert untouched[0].splitlines()[:2] == ["Self-check (the model in this kernel): 0/100", "✗ 1. Embedding layer  0/20"]
    assert answered[0].splitlines()[0] == "Self-check (the model in this kernel): 100/100"
    assert [line for line in answered[0].splitlines() if line.startswith("✓")] == [
        "✓ 1. Embedding layer  20/20", "✓ 2. LSTM layer  20/20", "✓ 3. Output layer  20/20", "✓ 4. Compile  20/20",
        "✓ 5. Summary  20/20"]


def test_percent_grade_reads_the_exercise_from_the_saved_notebooks_metadata(sentiment, tmp_path):
    """A notebook whose first cell only loads the grader (as the shipped LSTM notebooks do): `%grade`
    takes the exercise its saved file names, where Jupyter says where it is; an explicit --exercise
    wins; an exercise that is not installed (a path, say) is one line."""
    exercise_id = sentiment[0]
    nb = nbformat.v4.new_notebook()
    nb.metadata["lstm_grader"] = {"exercise": exercise_id}
    nb.cells = [new_code_cell(LOAD), new_code_cell("%grade --lang en"), new_code_cell("%grade --notebook stray.ipynb"),
                new_code_cell("%grade --lang en --exercise lstm_network")]  # remembered from then on
    nbformat.write(nb, tmp_path / "lab.ipynb")
    stray = nbformat.v4.new_notebook()
    stray.metadata["lstm_grader"] = {"exercise": "../lstm_network"}
    nbformat.write(stray, tmp_path / "stray.ipynb")
    ran = execute(nb, folder=tmp_path, env={"JPY_SESSION_NAME": str(tmp_path / "lab.ipynb")})
    (own, _), (explicit, _) = checks(nbformat.v4.new_notebook(cells=[ran.cells[1], ran.cells[3]]))
    assert own.splitlines()[1] == "✗ 1. Embedding layer  0/20"
    assert explicit.splitlines()[1] == "✗ 1. First LSTM layer  0/20"
    installed = ", ".join(installed_exercises())
    assert [output.get("text") for output in ran.cells[2].outputs] == [
        f"stray.ipynb: metadata.lstm_grader.exercise: '../lstm_network' is not an installed exercise "
        f"(installed: {installed})\n"]


def test_a_notebook_naming_an_exercise_that_is_not_installed_is_one_line_and_exit_2(tmp_path, capsys):
    for value in ("no_such_exercise", "/etc/passwd", ["lstm_network"]):
        nb = nbformat.v4.new_notebook()
        nb.metadata["lstm_grader"] = {"exercise": value}
        nbformat.write(nb, tmp_path / "mine.ipynb")
        assert main([str(tmp_path / "mine.ipynb"), "--no-report"]) == 2
        assert capsys.readouterr().err == (f"{tmp_path / 'mine.ipynb'}: metadata.lstm_grader.exercise: {value!r} is "
                                           f"not an installed exercise (installed: {', '.join(installed_exercises())})\n")


def test_an_explicit_exercise_wins_and_a_class_never_takes_a_notebooks_choice(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["lstm_grader"] = {"exercise": "gru_text"}
    mine = str(tmp_path / "mine.ipynb")
    nbformat.write(nb, mine)
    parser = build_parser()
    assert chosen_exercise(parser.parse_args([mine])) == "gru_text"
    assert chosen_exercise(parser.parse_args([mine, "--exercise", "cnn_image"])) == "cnn_image"
    assert chosen_exercise(parser.parse_args([mine, "-o", str(tmp_path / "out")])) == "lstm_network"
    assert chosen_exercise(parser.parse_args([str(tmp_path / "missing.ipynb")])) == "lstm_network"


def test_a_title_in_both_languages_is_split_and_one_in_a_single_language_gets_a_placeholder():
    assert _in_both("词嵌入层 / Embedding layer") == {"zh": "词嵌入层", "en": "Embedding layer"}
    assert _in_both("Embedding 层") == {"zh": "Embedding 层", "en": "TODO(translate): Embedding 层"}
    assert _in_both("Conv2D / MaxPooling2D") == {"en": "Conv2D / MaxPooling2D", "zh": "TODO(translate): Conv2D / MaxPooling2D"}
    assert [_article(name) for name in ("LSTM", "GRU", "Embedding", "SimpleRNN", "Dense")] == ["an", "a", "an", "a", "a"]
