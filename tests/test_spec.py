"""The exercise spec agrees with itself: its numbers are the ones the grader computes."""

from grader.checks import format_shape, layer_params
from grader.spec import load_spec, parse_shape

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
