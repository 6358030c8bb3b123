"""The probe's answer, read into typed data. Every field is validated; a wrong type is None.

Whether an object is a Keras model, and which Keras layer class a layer is, the probe decides by
identity with the real classes in the kernel; names and module strings count for nothing here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LayerState:
    id: int
    name: str
    keras_type: str | None  # the real Keras class this layer is, or derives from (its kind in grader/layers.toml)
    class_path: str
    units: int | None
    return_sequences: bool | None
    use_bias: bool | None
    declared_input_shape: tuple[int | None, ...] | None
    built: bool
    weight_params: int | None  # counted from the shapes of the weights Keras created
    count_params: int | None  # what the layer says of itself; shown, never trusted
    output_shape: tuple[int | None, ...] | None
    input_shape: tuple[int | None, ...] | None = None  # of the tensor it is wired to, when known
    wrapped_type: str | None = None  # the Keras layer a wrapper (Bidirectional, ...) holds
    cell_type: str | None = None  # the cell of a bare RNN reported as its layer: RNN(LSTMCell(n)) is an LSTM (Q8)
    outputs: int | None = None  # how many tensors it returns, when more than one (return_state=True)
    # Its settings the vocabulary compares (grader/layers.toml); a wrapper's "layer" is the wrapped one's.
    attributes: dict = field(default_factory=dict)

    @property
    def incoming_features(self) -> int | None:
        return self.input_shape[-1] if self.input_shape else None


@dataclass(frozen=True)
class ModelState:
    id: int
    is_keras_model: bool
    built: bool
    input_shape: tuple[int | None, ...] | None
    layers: tuple[LayerState, ...]  # the graded ones: without the pass-through layers
    passed_through: tuple[str, ...] = ()  # the types of the layers left out (Dropout, ...)
    build_shape: tuple[int | None, ...] | None = None  # given to model.build(...)
    compiled: dict | None = None  # {"loss": ..., "optimizer": ...} once compiled

    @property
    def input_known(self) -> bool:
        """Does the model know its input shape (declared, built, or given to build)?"""
        return bool(self.input_shape or (self.layers and self.layers[0].declared_input_shape) or self.build_shape)

    @property
    def input_dim(self) -> int | None:
        """The feature dimension the model was declared with: on the model, its first layer, or
        by `model.build(...)` (a subclassed model in Keras 3 is declared so, its layers unbuilt)."""
        shape = self.input_shape or (self.layers[0].declared_input_shape if self.layers else None) or self.build_shape
        return shape[-1] if shape else None


@dataclass(frozen=True)
class Snapshot:
    defined: bool
    model: ModelState | None
    summary_calls: tuple[int, ...] = ()
    error: str | None = None
    found_as: str | None = None  # where the graded model was found, when not under the model variable
    compiled: tuple[str, ...] = ()  # digests of the sources the kernel compiled as a cell since the last snapshot
    pipeline_changed: tuple[str, ...] = ()  # parts of IPython's cell pipeline the notebook's code changed

    @property
    def layers(self) -> tuple[LayerState, ...]:
        return self.model.layers if self.model else ()


EMPTY = Snapshot(defined=False, model=None)


def parse_snapshot(data: dict, pass_through: frozenset[str] = frozenset()) -> Snapshot:
    """The probe's answer as data; layers of the `pass_through` types (a Flatten only when it
    changes no shape) are left out of the model's layers, and listed."""
    if "probe_error" in data:
        return Snapshot(defined=False, model=None, error=str(data["probe_error"]))
    model = data.get("model")
    return Snapshot(defined=data.get("defined") is True,
                    model=_model(model, pass_through) if isinstance(model, dict) else None,
                    summary_calls=tuple(c for c in data.get("summary_calls", []) if _is_int(c)),
                    found_as=_str(data.get("found_as")), compiled=_strings(data.get("compiled"), 17),
                pipeline_changed=_strings(data.get("pipeline_changed"), 32))


def _strings(value, most: int) -> tuple[str, ...]:
    return tuple(item[:200] for item in value[:most] if isinstance(item, str)) if isinstance(value, list) else ()


def _model(data: dict, pass_through: frozenset[str]) -> ModelState:
    # A functional model lists its Input as a layer: it is the model's input, not one of its layers.
    layers = [_layer(layer) for layer in data.get("layers", [])
              if isinstance(layer, dict) and layer.get("keras_type") != "InputLayer"]
    kept = [layer for layer in layers if not _passes_through(layer, pass_through)]
    return ModelState(
        id=_int(data.get("id")) or 0,
        is_keras_model=data.get("keras_model") is True,
        built=data.get("built") is True,
        input_shape=_shape(data.get("input_shape")),
        build_shape=_shape(data.get("build_shape")),
        compiled=_compiled(data.get("compiled")),
        layers=tuple(kept),
        passed_through=tuple(layer.keras_type for layer in layers if layer not in kept),
    )


def _passes_through(layer: LayerState, pass_through: frozenset[str]) -> bool:
    if layer.keras_type not in pass_through:
        return False
    return layer.keras_type != "Flatten" or (layer.input_shape is not None and layer.input_shape == layer.output_shape)


def _layer(data: dict) -> LayerState:
    weight_shapes = [_shape(shape) for shape in data.get("weight_shapes") or []]
    known = all(shape is not None and None not in shape for shape in weight_shapes)
    built = data.get("built") is True
    return LayerState(
        id=_int(data.get("id")) or 0,
        name=str(data.get("name") or "?"),
        keras_type=_str(data.get("keras_type")),
        class_path=str(data.get("class") or "?"),
        units=_int(data.get("units")),
        return_sequences=_bool(data.get("return_sequences")),
        use_bias=_bool(data.get("use_bias")),
        declared_input_shape=_shape(data.get("declared_input_shape")),
        built=built,
        weight_params=sum(math.prod(shape) for shape in weight_shapes) if built and known else None,
        count_params=_int(data.get("count_params")),
        output_shape=_shape(data.get("output_shape")),
        input_shape=_shape(data.get("input_shape")),
        wrapped_type=_str(data.get("wrapped_type")),
        cell_type=_str(data.get("cell")),
        outputs=_int(data.get("outputs")),
        attributes=_attributes(data),
    )


def _attributes(data: dict) -> dict:
    own = _plain(data.get("attributes"))
    merged = {**_plain(data.get("cell_attributes")), **own}
    wrapped = data.get("wrapped_attributes")
    if isinstance(wrapped, dict) and _str(data.get("wrapped_type")):
        merged["layer"] = {"type": data["wrapped_type"], **_plain(wrapped)}
    return merged


def _plain(value) -> dict:
    """Settings as the probe reports them: names to numbers, text, booleans or shapes."""
    if not isinstance(value, dict):
        return {}
    return {str(key): tuple(item) if isinstance(item, list) else item for key, item in value.items()
            if isinstance(item, (bool, int, float, str)) or (isinstance(item, list) and _shape(item) is not None)}


def _compiled(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    return {key: value[key] for key in ("loss", "optimizer") if isinstance(value.get(key), str)}


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _shape(value) -> tuple[int | None, ...] | None:
    if not isinstance(value, list) or not all(dim is None or _is_int(dim) for dim in value):
        return None
    return tuple(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value) -> int | None:
    return value if _is_int(value) else None


def _bool(value) -> bool | None:
    return value if isinstance(value, bool) else None
