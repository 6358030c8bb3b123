"""The layer vocabulary's formulas against real Keras: for each kind, the parameters and output
shape the grader computes are those of the layer Keras builds."""

import importlib

import keras
import pytest

from grader.layer_kinds import vocabulary

# kind, settings (as a spec writes them), input shape (batch first)
CASES = [
    ("LSTM", {"units": 50, "return_sequences": True}, (None, None, 1)),
    ("LSTM", {"units": 300}, (None, None, 100)),
    ("GRU", {"units": 32}, (None, None, 32)),
    ("GRU", {"units": 16, "return_sequences": True, "reset_after": False}, (None, 7, 3)),
    ("SimpleRNN", {"units": 8}, (None, None, 4)),
    ("Bidirectional", {"layer": {"type": "LSTM", "units": 64, "return_sequences": True}}, (None, None, 10)),
    ("Dense", {"units": 10}, (None, 100)),
    ("Dense", {"units": 5, "use_bias": False}, (None, 7, 3)),
    ("Embedding", {"input_dim": 10000, "output_dim": 32}, (None, None)),
    ("Conv1D", {"filters": 16, "kernel_size": 5}, (None, 100, 8)),
    ("Conv2D", {"filters": 32, "kernel_size": (3, 3)}, (None, 28, 28, 1)),
    ("Conv2D", {"filters": 8, "kernel_size": (5, 5), "strides": (2, 2), "padding": "same"}, (None, 28, 28, 3)),
    ("MaxPooling1D", {"pool_size": 2}, (None, 100, 8)),
    ("MaxPooling2D", {"pool_size": (2, 2)}, (None, 13, 13, 32)),
    ("MaxPooling2D", {"pool_size": (3, 3), "strides": (1, 1)}, (None, 10, 10, 4)),
    ("Flatten", {}, (None, 5, 5, 64)),
    ("Dropout", {"rate": 0.5}, (None, 20)),
    ("BatchNormalization", {}, (None, 12)),
]


def build(kind_name: str, settings: dict):
    arguments = dict(settings)
    if "layer" in arguments:
        inner = dict(arguments["layer"])
        arguments["layer"] = build(inner.pop("type"), inner)
    return getattr(keras.layers, kind_name)(**arguments)


@pytest.mark.parametrize("kind_name, settings, shape", CASES, ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_the_formulas_are_what_keras_builds(kind_name, settings, shape):
    model = keras.Sequential([keras.Input(shape=shape[1:]), build(kind_name, settings)])
    layer = model.layers[-1]
    kind = vocabulary()[kind_name]
    assert kind.params(settings, shape) == layer.count_params()
    assert kind.output(settings, shape) == tuple(layer.output.shape)


def test_every_kind_of_the_vocabulary_is_covered():
    assert {case[0] for case in CASES} == set(vocabulary())


@pytest.mark.parametrize("keras_module", ["keras", "tf_keras"])
@pytest.mark.parametrize("kind_name, settings, shape", [
    ("LSTM", {"units": 50, "return_sequences": True}, (None, None, 1)),
    ("GRU", {"units": 32}, (None, None, 8)),
    ("SimpleRNN", {"units": 16, "return_sequences": True}, (None, 5, 3)),
])
def test_an_rnn_of_one_cell_is_its_layer(keras_module, kind_name, settings, shape):
    """Q8: RNN(LSTMCell(n)) is graded as LSTM(n). In Keras 3 and in tf-keras it has the parameters
    and the output shape of that layer, which the vocabulary computes; its units live on the cell."""
    real = importlib.import_module(keras_module)
    arguments = {name: value for name, value in settings.items() if name != "units"}
    cell = getattr(real.layers, f"{kind_name}Cell")(settings["units"])
    model = real.Sequential([real.Input(shape=shape[1:]), real.layers.RNN(cell, **arguments)])
    layer = model.layers[-1]
    kind = vocabulary()[kind_name]
    assert type(layer).__name__ == "RNN" and "units" not in vars(layer) and layer.cell.units == settings["units"]
    assert kind.params(settings, shape) == layer.count_params()
    assert kind.output(settings, shape) == tuple(layer.output.shape)
