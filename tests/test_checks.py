"""The checks on their own: layers and summaries against the spec, with no kernel."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.checks import (
    cell_notes,
    format_shape,
    judge_layers,
    judge_summary,
    layer_params,
    shape_matches,
    shown_values,
)
from grader.spec import LayerSpec, load_spec
from tests.layers import layer, reference_layers

SPEC = load_spec()
STEP1, STEP2, STEP3, STEP4, STEP5 = SPEC.steps


def failed(checks) -> dict:
    return {check.name: (check.expected, check.actual) for check in checks if not check.passed}


def test_parameter_formulas():
    assert layer_params("LSTM", 50, 1) == 4 * (50 * (1 + 50) + 50) == 10400
    assert layer_params("LSTM", 100, 50, use_bias=False) == 4 * 100 * 150
    assert layer_params("Dense", 10, 100) == 1010
    assert layer_params("GRU", 10, 100) == 3 * (10 * (100 + 10) + 2 * 10)  # reset_after=True, the default
    assert layer_params("Conv3D", 10, 100) is None  # not in the vocabulary
    assert layer_params("Dense", 10, None) is None


def test_reference_layers_pass_every_step():
    layers = reference_layers()
    assert failed(judge_layers(STEP1.layers, layers[:1], 0, 1, "en")) == {}
    assert failed(judge_layers(STEP2.layers, layers[:2], 1, 1, "en")) == {}
    assert failed(judge_layers(STEP3.layers, layers[:3], 2, 1, "en")) == {}
    assert failed(judge_layers(STEP4.layers, layers, 3, 1, "en")) == {}


def test_params_are_checked_against_the_layers_real_input():
    first = layer("LSTM", 64, 1, return_sequences=True, declared=(None, None, 1))
    second = layer("LSTM", 100, 64, return_sequences=True)
    checks = judge_layers(STEP2.layers, [first, second], 1, 1, "en")
    assert failed(checks) == {}
    params = next(check for check in checks if check.name == "params")
    assert (params.expected, params.actual) == (60_400, 4 * (100 * (64 + 100) + 100))  # the course's, and the layer's
    assert params.message == ("parameters: the course's answer has 60,400; on your layer's actual input of 64 "
                              "features it should have 66,000, it has 66,000 ✓")


def test_a_layer_wired_to_the_wrong_tensor_fails_its_input_dimension():
    """A functional LSTM(100) fed by the 1-feature input instead of the LSTM(50) before it."""
    first = layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1))
    second = replace(layer("LSTM", 100, 50, return_sequences=True), input_shape=(None, None, 1))
    assert failed(judge_layers(STEP2.layers, [first, second], 1, 1, "en"))["input_dim"] == (50, 1)


def test_weights_that_disagree_with_the_settings_fail_even_if_count_params_agrees():
    forged = layer("LSTM", 64, 1, return_sequences=True, declared=(None, None, 1), weight_params=10400)
    assert failed(judge_layers(STEP1.layers, [forged], 0, 1, "en"))["params"] == (10400, 10400)
    tampered = layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1), weight_params=99)
    message = next(c.message for c in judge_layers(STEP1.layers, [tampered], 0, 1, "en") if c.name == "params")
    assert message == "this layer holds 99 weights, but its settings give 10,400"


def test_unbuilt_first_layer_reports_the_missing_input_dimension():
    unbuilt = layer("LSTM", 50, None, return_sequences=True, weight_params=None)
    assert failed(judge_layers(STEP1.layers, [unbuilt], 0, None, "en")) == {
        "input_dim": (1, "not declared"), "params": (10400, "unknown"),
        "output_shape": ("(None, None, 50)", "unknown")}


def test_missing_and_extra_layers():
    layers = reference_layers()
    missing = failed(judge_layers(STEP4.layers, layers[:4], 3, 1, "en"))
    assert missing == {"layer": ("Dense(10)", "missing")}
    checks = judge_layers(STEP4.layers, [*layers, layer("Dense", 10, 10)], 3, 1, "en")
    assert failed(checks) == {"layer_count": (2, 3)}
    # The sentence names the layer beyond the asked ones.
    assert next(check.message for check in checks if not check.passed) == \
        "this step should add 2 layer(s), it added 3 (more than asked: Dense(10))"


def test_wrong_type_is_reported_with_the_keras_class():
    layers = reference_layers()
    layers[2] = layer("GRU", 300, 100, weight_params=3 * 300 * (100 + 300 + 2))
    assert failed(judge_layers(STEP3.layers, layers[:3], 2, 1, "en"))["type"] == ("LSTM", "GRU")


def test_time_dimension_and_batch_size_may_be_fixed():
    assert shape_matches((None, None, 50), (32, 20, 50))
    assert not shape_matches((None, None, 50), (None, 50))
    assert not shape_matches((None, 300), (None, None, 300))
    assert format_shape((None, None, 50)) == "(None, None, 50)"
    assert format_shape((7,)) == "(7,)"


@pytest.mark.parametrize("called, printed, failing", [
    (True, True, {}),
    (True, False, {"summary_printed": ("printed", "nothing printed")}),
    (False, False, {"summary_called": ("ran", "did not run")}),
])
def test_summary_checks(called, printed, failing):
    assert failed(judge_summary(called, printed, "en")) == failing


def test_messages_follow_the_language():
    checks = judge_layers(STEP1.layers, [layer("LSTM", 64, 1, return_sequences=True, declared=(None, None, 1))],
                          0, 1, "zh")
    units = next(check for check in checks if check.name == "units")
    assert units.message == "单元数：应为 50，实际为 64"


def test_failed_checks_explain_with_the_layers_numbers():
    wrong = layer("LSTM", 64, 1, return_sequences=True, declared=(None, None, 1))
    params = next(c for c in judge_layers(STEP1.layers, [wrong], 0, 1, "en") if c.name == "params")
    assert params.explain.endswith("= 4 × (50 × (1 + 50) + 50) = 10,400 parameters. "
                                   "Yours: 4 × (64 × (1 + 64) + 64) = 16,896.")
    dense = judge_layers(STEP4.layers, [*reference_layers()[:3], layer("Dense", 100, 300), layer("Dense", 20, 100)],
                         3, 1, "en")
    assert [c for c in dense if c.name == "params"][-1].explain == (
        "A Dense layer has a weight from each input to each unit, plus one bias per unit: "
        "inputs × units + units = 100 × 10 + 10 = 1,010. Yours: 100 × 20 + 20 = 2,020.")
    assert all(check.explain == "" for check in judge_layers(STEP1.layers, reference_layers()[:1], 0, 1, "en"))


def test_a_string_where_a_bool_is_expected_shows_the_difference():
    """return_sequences='True': Keras takes it (a non-empty string is true), the check fails, and
    its message shows what differs, the quotes and the type, in the student's language."""
    first = replace(layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1)),
                    return_sequences=None, attributes={"return_sequences": "True"})
    checks = judge_layers(STEP1.layers, [first], 0, 1, "en")
    assert failed(checks) == {"return_sequences": (True, "True")}
    messages = {lang: next(check.message for check in judge_layers(STEP1.layers, [first], 0, 1, lang) if not check.passed)
                for lang in ("en", "zh")}
    assert messages == {"en": "return_sequences: expected True, got 'True' (a string)",
                        "zh": "return_sequences：应为 True，实际为 'True'（字符串）"}


@pytest.mark.parametrize("expected, actual, shown", [
    (True, "True", ("True", "'True' (a string)")),  # reads alike: quoted, and the type named
    (50, "50", ("50", "'50' (a string)")),
    (False, "no", ("False", "'no'")),  # text where something else is expected: quoted
    ("relu", "tanh", ("relu", "tanh")),  # text against text: as it is
    (100, 100.0, ("100", "100.0")),  # reads differently already
    (0.5, 0.2, ("0.5", "0.2")),
    (1010, 2020, ("1,010", "2,020")),
])
def test_a_failed_value_is_shown_as_the_student_tells_it_apart(expected, actual, shown):
    assert shown_values(expected, actual, "en") == shown


def test_a_float_setting_is_compared_as_a_number_and_text_is_not_one():
    dropout = LayerSpec("Dropout", (("rate", 0.5),))
    reported = replace(layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1)), keras_type="Dropout",
                       units=None, weight_params=0, attributes={"rate": 0.5})
    assert failed(judge_layers([dropout], [reported], 0, 1, "en")) == {}
    as_text = replace(reported, attributes={"rate": "0.5"})
    message = next(c.message for c in judge_layers([dropout], [as_text], 0, 1, "en") if c.name == "rate")
    assert message == "rate: expected 0.5, got '0.5' (a string)"


def test_a_layer_returning_its_states_says_so_first():
    """LSTM(..., return_state=True) in a Sequential model: Keras 3 keeps it, its output is three
    tensors, so it has no one output shape. The first failed check says why, not that the model
    has no input dimension."""
    states = replace(layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1)), output_shape=None, outputs=3)
    checks = judge_layers(STEP1.layers, [states], 0, 1, "en", keras_built=True)
    assert [check.message for check in checks if not check.passed] == [
        "the layer returns 3 tensors, not one: return_state=True returns its states beside its output, and the "
        "next layer takes one tensor; leave return_state out"]


def test_an_rnn_of_one_cell_passes_as_its_layer_with_a_note():
    """Q8: the probe reports RNN(LSTMCell(50)) as an LSTM layer, naming the cell; it is judged as
    one, and the note says so once for each kind of cell."""
    cells = [replace(reference, cell_type="LSTMCell") for reference in reference_layers()[:3]]
    assert failed(judge_layers(STEP1.layers, cells[:1], 0, 1, "en")) == {}
    assert cell_notes([*cells, *reference_layers()[3:]], "en") == [
        "In Keras, RNN(LSTMCell(n)) is the same layer as LSTM(n) (the same parameters and output shape), "
        "so it was judged as LSTM(n)."]
    assert cell_notes(reference_layers(), "en") == []
