"""Layer and model states as the probe would report them, for fast unit tests."""

from __future__ import annotations

import itertools

from grader.checks import layer_params
from grader.snapshot import LayerState, ModelState, Snapshot

_ids = itertools.count(1)


def layer(kind: str, units: int, inputs: int | None, *, return_sequences: bool | None = None,
          output_shape=None, weight_params: int | None = -1, declared=None, use_bias: bool = True) -> LayerState:
    """A built layer whose weights match its settings, unless weight_params says otherwise."""
    if weight_params == -1:
        weight_params = layer_params(kind, units, inputs, use_bias)
    if return_sequences is None and kind == "LSTM":
        return_sequences = False
    if output_shape is None and inputs is not None:
        output_shape = (None, None, units) if return_sequences else (None, units)
    return LayerState(id=next(_ids), name=kind.lower(), keras_type=kind, class_path=f"keras.layers.{kind}",
                      units=units, return_sequences=return_sequences, use_bias=use_bias,
                      declared_input_shape=declared, built=weight_params is not None,
                      weight_params=weight_params, count_params=weight_params, output_shape=output_shape)


def reference_layers() -> list[LayerState]:
    return [layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1)),
            layer("LSTM", 100, 50, return_sequences=True),
            layer("LSTM", 300, 100, return_sequences=False),
            layer("Dense", 100, 300), layer("Dense", 10, 100)]


def snapshot(layers, input_shape=(None, None, 1), summary_calls=()) -> Snapshot:
    model = ModelState(id=next(_ids), is_keras_model=True, built=input_shape is not None,
                       input_shape=input_shape, layers=tuple(layers))
    return Snapshot(defined=True, model=model, summary_calls=tuple(summary_calls))
