"""The layer vocabulary (grader/layers.toml) as code: each kind's parameter formula and output
shape, computed by the grader from the layer's settings and the shape it receives, so that no
number a layer says of itself is trusted; and how its settings compare.

A family is one function pair: `params(attributes, input_shape)` and `output(attributes, input_shape)`.
Shapes are tuples with the batch first; None stands for any size.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_VOCABULARY = Path(__file__).with_name("layers.toml")
Shape = tuple[int | None, ...]
Attributes = dict[str, object]


@dataclass(frozen=True)
class LayerKind:
    name: str
    family: str
    attributes: tuple[str, ...]
    build: tuple[str, ...]
    main: str | None = None
    explain: dict[str, dict[str, str]] = field(default_factory=dict)  # attribute -> language -> text

    def params(self, attributes: Attributes, input_shape: Shape | None) -> int | None:
        if input_shape is None or any(attributes.get(name) is None for name in _NEEDED.get(self.family, ())):
            return None
        try:
            return _FAMILIES[self.family][0](attributes, input_shape)
        except (TypeError, ValueError, IndexError, KeyError):
            return None

    def output(self, attributes: Attributes, input_shape: Shape | None) -> Shape | None:
        if input_shape is None:
            return None
        try:
            return _FAMILIES[self.family][1](attributes, input_shape)
        except (TypeError, ValueError, IndexError, KeyError):
            return None

    @property
    def recurrent(self) -> bool:
        return self.family in ("lstm", "gru", "simple_rnn")


@cache
def vocabulary() -> dict[str, LayerKind]:
    data = tomllib.loads(_VOCABULARY.read_text(encoding="utf-8"))
    return {name: LayerKind(name, raw["family"], tuple(raw.get("attributes", ())), tuple(raw.get("build", ())),
                            raw.get("main"), raw.get("explain", {}))
            for name, raw in data.items()}


def kind(name: str | None) -> LayerKind | None:
    return vocabulary().get(name or "")


def probed_attributes() -> tuple[str, ...]:
    """Every attribute some kind compares: what the probe reports of each layer."""
    return tuple(sorted({name for layer_kind in vocabulary().values() for name in layer_kind.attributes
                         if name != "layer"}))


def normalise(name: str, value: object, rank: int | None = None) -> object:
    """A setting as compared: `kernel_size=3` of a Conv2D is (3, 3); lists are tuples."""
    if isinstance(value, list):
        value = tuple(value)
    if name == "activation" and isinstance(value, str) and value.endswith("_v2"):
        value = value[:-3]  # tf.nn.softmax is softmax_v2
    if name in ("kernel_size", "pool_size", "strides") and isinstance(value, int) and rank:
        return (value,) * rank
    return value


def spatial_rank(kind_name: str) -> int | None:
    return 2 if kind_name.endswith("2D") else 1 if kind_name.endswith("1D") else None


# --- the families ----------------------------------------------------------------------------------

def _bias(attributes: Attributes, count: int) -> int:
    return 0 if attributes.get("use_bias") is False else count


def _recurrent_output(attributes: Attributes, shape: Shape) -> Shape:
    units = attributes["units"]
    return (*shape[:-1], units) if attributes.get("return_sequences") else (shape[0], units)


def _lstm(attributes: Attributes, shape: Shape) -> int:
    units, inputs = attributes["units"], shape[-1]
    return 4 * (units * (inputs + units) + _bias(attributes, units))


def _gru(attributes: Attributes, shape: Shape) -> int:
    units, inputs = attributes["units"], shape[-1]
    biases = 2 * units if attributes.get("reset_after", True) is not False else units
    return 3 * (units * (inputs + units) + _bias(attributes, biases))


def _simple_rnn(attributes: Attributes, shape: Shape) -> int:
    units, inputs = attributes["units"], shape[-1]
    return units * (inputs + units) + _bias(attributes, units)


def _dense(attributes: Attributes, shape: Shape) -> int:
    units = attributes["units"]
    return shape[-1] * units + _bias(attributes, units)


def _embedding(attributes: Attributes, shape: Shape) -> int:
    return attributes["input_dim"] * attributes["output_dim"]


def _conv(attributes: Attributes, shape: Shape) -> int:
    filters, kernel = attributes["filters"], attributes["kernel_size"]
    kernel = kernel if isinstance(kernel, tuple) else (kernel,) * (len(shape) - 2)
    return math.prod(kernel) * shape[-1] * filters + _bias(attributes, filters)


def _windows(sizes: Shape, window: tuple, strides: tuple, padding: str) -> Shape:
    if padding == "same":
        return tuple(None if size is None else -(-size // stride) for size, stride in zip(sizes, strides))
    return tuple(None if size is None else (size - span) // stride + 1
                 for size, span, stride in zip(sizes, window, strides))


def _conv_output(attributes: Attributes, shape: Shape) -> Shape:
    rank = len(shape) - 2
    kernel = normalise("kernel_size", attributes["kernel_size"], rank)
    strides = normalise("strides", attributes.get("strides") or 1, rank)
    spatial = _windows(shape[1:-1], kernel, strides, attributes.get("padding") or "valid")
    return (shape[0], *spatial, attributes["filters"])


def _pool_output(attributes: Attributes, shape: Shape) -> Shape:
    rank = len(shape) - 2
    pool = normalise("pool_size", attributes.get("pool_size") or 2, rank)
    strides = normalise("strides", attributes.get("strides") or pool, rank)
    return (shape[0], *_windows(shape[1:-1], pool, strides, attributes.get("padding") or "valid"), shape[-1])


def _flatten_output(attributes: Attributes, shape: Shape) -> Shape:
    rest = shape[1:]
    return (shape[0], None if None in rest else math.prod(rest))


def _inner(attributes: Attributes) -> tuple[LayerKind, Attributes]:
    inner = attributes["layer"]
    return vocabulary()[inner["type"]], inner


def _bidirectional(attributes: Attributes, shape: Shape) -> int:
    layer_kind, inner = _inner(attributes)
    return 2 * layer_kind.params(inner, shape)


def _bidirectional_output(attributes: Attributes, shape: Shape) -> Shape:
    layer_kind, inner = _inner(attributes)
    out = layer_kind.output(inner, shape)
    return (*out[:-1], 2 * out[-1]) if attributes.get("merge_mode", "concat") == "concat" else out


_FAMILIES: dict[str, tuple[Callable, Callable]] = {
    "lstm": (_lstm, _recurrent_output),
    "gru": (_gru, _recurrent_output),
    "simple_rnn": (_simple_rnn, _recurrent_output),
    "bidirectional": (_bidirectional, _bidirectional_output),
    "dense": (_dense, lambda attributes, shape: (*shape[:-1], attributes["units"])),
    "embedding": (_embedding, lambda attributes, shape: (*shape, attributes["output_dim"])),
    "conv": (_conv, _conv_output),
    "pool": (lambda attributes, shape: 0, _pool_output),
    "flatten": (lambda attributes, shape: 0, _flatten_output),
    "same": (lambda attributes, shape: 0, lambda attributes, shape: shape),
    "batch_norm": (lambda attributes, shape: 4 * shape[-1], lambda attributes, shape: shape),
}
# The settings a family's formula cannot do without.
_NEEDED = {"lstm": ("units",), "gru": ("units",), "simple_rnn": ("units",), "dense": ("units",),
           "embedding": ("input_dim", "output_dim"), "conv": ("filters", "kernel_size"), "bidirectional": ("layer",)}


# Zero weights for reference layers: only their shapes matter, and random orthogonal ones cost a
# fresh kernel 0.2 s.
_ZERO_WEIGHTS = {
    "lstm": {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"},
    "gru": {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"},
    "simple_rnn": {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"},
    "dense": {"kernel_initializer": "zeros"},
    "conv": {"kernel_initializer": "zeros"},
    "embedding": {"embeddings_initializer": "zeros"},
}


def reference_arguments(kind_name: str, attributes: Attributes) -> dict:
    """The keyword arguments the probe builds a reference layer with (a wrapper's `layer` as
    `{"type", "arguments"}` in turn)."""
    layer_kind = vocabulary()[kind_name]
    arguments = {name: list(value) if isinstance(value, tuple) else value
                 for name, value in attributes.items() if name in layer_kind.build}
    if isinstance(arguments.get("layer"), dict):
        inner = dict(arguments["layer"])
        inner_type = inner.pop("type")
        arguments["layer"] = {"type": inner_type, "arguments": reference_arguments(inner_type, inner)}
    return {**arguments, **_ZERO_WEIGHTS.get(layer_kind.family, {})}
