"""The exercise spec agrees with itself: its numbers are the ones the grader computes; the names it
gives Keras (losses, optimizers, activations) are ones Keras has."""

import subprocess
import sys
from pathlib import Path

import pytest

from grader.checks import format_shape, layer_params
from grader.cli import main
from grader.keras_names import from_keras, keras_names
from grader.spec import SpecError, load_spec, parse_shape

SPEC = load_spec()


def test_points_and_steps():
    assert [step.id for step in SPEC.steps] == ["step1", "step2", "step3", "step4", "step5"]
    assert SPEC.max_score == 100
    assert all(step.title["zh"] and step.title["en"] and step.hint["zh"] and step.hint["en"] for step in SPEC.steps)


def test_expected_params_and_shapes_follow_from_the_layers():
    layers = [layer for step in SPEC.steps for layer in step.layers]
    inputs = layers[0].input_dim
    total = 0
    for layer in layers:
        assert layer_params(layer.type, layer.units, inputs) == layer.params
        total += layer.params
        inputs = layer.units
    assert total == 583110
    assert [format_shape(layer.output_shape) for layer in layers] == [
        "(None, None, 50)", "(None, None, 100)", "(None, 300)", "(None, 100)", "(None, 10)"]


def test_parse_shape():
    assert parse_shape("(None, None, 50)") == (None, None, 50)
    assert parse_shape("(7,)") == (7,)


# --- a bad spec: one line naming the file, the key and what is allowed ---

GOOD = """id = "tiny"
title = { zh = "小", en = "Tiny" }
[[steps]]
id = "step1"
points = 50
title = { zh = "卷积", en = "Convolution" }
hint = { zh = "h", en = "h" }
[[steps.layers]]
type = "Conv2D"
filters = 8
kernel_size = 3
input_shape = "(None, 28, 28, 1)"
params = 80
output_shape = "(None, 26, 26, 8)"
[[steps]]
id = "step2"
points = 50
title = { zh = "摘要", en = "Summary" }
hint = { zh = "h", en = "h" }
checks = ["summary"]
"""

BAD = [
    (GOOD.replace('type = "Conv2D"', 'type = "Conv3D"'),
     "steps[0].layers[0].type: 'Conv3D' is not a layer kind of grader/layers.toml (known: BatchNormalization, "),
    (GOOD.replace("filters = 8", "filters = 8\nunits = 3"), "steps[0].layers[0].units: not an attribute of Conv2D (allowed: "),
    (GOOD.replace("kernel_size = 3", 'kernel_size = "3"'),
     "steps[0].layers[0].kernel_size: '3' is not a size or a list of sizes, such as 3 or [3, 3]"),
    (GOOD.replace("params = 80", "params = 81"),
     "steps[0].layers[0].params: 81 is not what a Conv2D with these settings has on an input of (None, 28, 28, 1): 80"),
    (GOOD.replace('checks = ["summary"]', 'checks = ["sumary"]'),
     "steps[1].checks: unknown check 'sumary' (allowed: compiled, layers, output_shape, summary)"),
    (GOOD.replace("points = 50", 'points = "50"', 1), "steps[0].points: expected a whole number, got '50'"),
    (GOOD.replace('hint = { zh = "h", en = "h" }', 'hint = { zh = "h" }', 1), "steps[0].hint.en: missing"),
    (GOOD.replace('input_shape = "(None, 28, 28, 1)"\n', ""),
     "steps[0].layers[0].input_shape: the first layer states the model's input"),
    (GOOD + "\n[policy]\nplaceholdr = '<None>'\n", "policy.placeholdr: unknown key (allowed: "),
    ("id = 3", "id = 3\n^"),  # not TOML at all
]


def test_a_good_spec_loads(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(GOOD)
    spec = load_spec(path)
    assert [step.checks for step in spec.steps] == [("layers",), ("summary",)]
    assert spec.steps[0].layers[0].attributes == {"filters": 8, "kernel_size": (3, 3)}


@pytest.mark.parametrize("text, said", BAD, ids=range(len(BAD)))
def test_a_bad_spec_is_one_line_naming_the_key(tmp_path, text, said):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    if said.startswith("id = 3"):  # an unfinished table: not TOML
        path.write_text("id = 3\n[[steps]\n")
        said = "not TOML"
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and said in message and "\n" not in message


def test_check_spec_says_ok_or_the_line_and_exits_2(tmp_path, capsys):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD)
    bad.write_text(BAD[0][0])
    assert main(["check-spec", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok, 2 steps, 100 points\n"
    assert main(["check-spec", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{bad}: steps[0].layers[0].type: 'Conv3D'")


def test_grading_against_a_bad_spec_grades_nothing_and_says_why(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD[3][0])
    notebook = tmp_path / "x.ipynb"
    notebook.write_text("{}")
    assert main([str(notebook), "--exercise", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steps[0].layers[0].params: 81 is not" in err


# --- names Keras must know: a loss, an optimizer, an activation (issue 20) ---

GRU_TEXT = Path("exercises/gru_text/spec.toml").read_text(encoding="utf-8")
MISSPELLED = [
    ('compile.loss = "binary_crossentropy"', 'compile.loss = "binary_crossentropyy"',
     "steps[3].compile.loss: 'binary_crossentropyy' is not a Keras loss (nearest: 'binary_crossentropy')"),
    ('compile.optimizer = "adam"', 'compile.optimizer = "adamm"',
     "steps[3].compile.optimizer: 'adamm' is not a Keras optimizer (nearest: 'adam')"),
    ('activation = "sigmoid"', 'activation = "sigmoud"',
     "steps[2].layers[0].activation: 'sigmoud' is not a Keras activation (nearest: 'sigmoid')"),
    ('compile.optimizer = "adam"', "compile.optimizer = 3", "steps[3].compile.optimizer: expected text, got 3"),
]


@pytest.mark.parametrize("good, bad, said", MISSPELLED, ids=["loss", "optimizer", "activation", "not text"])
def test_check_spec_names_a_misspelled_keras_name_and_the_nearest_one(tmp_path, capsys, good, bad, said):
    path = tmp_path / "spec.toml"
    assert GRU_TEXT.count(good) == 1
    path.write_text(GRU_TEXT.replace(good, bad), encoding="utf-8")
    assert main(["check-spec", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: {said}\n"


def test_names_are_accepted_as_keras_reads_them(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(GRU_TEXT.replace('"adam"', '"RMSprop"').replace('"binary_crossentropy"', '"BinaryCrossentropy"'))
    assert dict(load_spec(path).steps[3].settings) == {"compile.loss": "BinaryCrossentropy", "compile.optimizer": "RMSprop"}


def test_the_shipped_names_are_the_installed_keras_names():
    """grader/keras_names.toml, read by every spec check without importing Keras, is what this Keras
    accepts; after upgrading Keras, `python -m grader.keras_names` writes it again."""
    assert {kind: sorted(names) for kind, names in keras_names().items()} == from_keras()


def test_checking_a_spec_imports_no_keras():
    code = ("import sys; from grader.spec import load_spec; load_spec('gru_text'); load_spec('cnn_image'); "
            "print(sorted(name for name in ('keras', 'tensorflow', 'tf_keras') if name in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parent.parent)
    assert shown.stdout == "[]\n"
