"""The only grader code that runs inside the student's kernel.

It reads the state of the student's model as plain data and returns it as JSON text through
`user_expressions`; it never decides a grade. Keep it small: everything it reports is checked
again by the grader, which trusts no number it can compute itself.
"""

import functools
import json
import os
import sys

_summary_calls: list = []


class JsonText:
    """An object whose repr is its JSON text, so IPython sends the JSON as text/plain as is."""

    def __init__(self, data):
        self.text = json.dumps(data, default=str)

    def __repr__(self):
        return self.text


def install() -> JsonText:
    """Import the Keras this kernel runs and record every call of `Model.summary`."""
    keras = _runtime_keras()
    _record_summary_calls(keras.Model)
    return JsonText({"keras_module": keras.__name__, "keras_version": keras.__version__})


def snapshot(name: str) -> JsonText:
    """The model bound to `name` in the user namespace, and summary calls since the last snapshot."""
    namespace = _user_namespace()
    model = namespace.get(name)
    calls = list(_summary_calls)
    _summary_calls.clear()
    return JsonText({
        "defined": name in namespace,
        "model": _describe_model(model) if name in namespace else None,
        "summary_calls": calls,
    })


def install_reference(name: str, layers_json: str) -> JsonText:
    """Bind `name` to the reference model made of `layers`; returns its snapshot."""
    keras = _model_keras(_user_namespace().get(name)) or _runtime_keras()
    model = keras.Sequential()
    for index, layer in enumerate(json.loads(layers_json)):
        if index == 0:
            model.add(keras.Input(shape=(None, layer["input_dim"])))
        options = {"return_sequences": layer["return_sequences"]} if layer["type"] == "LSTM" else {}
        model.add(getattr(keras.layers, layer["type"])(layer["units"], **options))
    _user_namespace()[name] = model
    return snapshot(name)


def _runtime_keras():
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras as keras
    else:
        import keras
    return keras


def _model_keras(model):
    package = type(model).__module__.split(".")[0]
    module = sys.modules.get(package)
    return module if package in ("keras", "tf_keras") and hasattr(module, "Sequential") else None


def _user_namespace() -> dict:
    from IPython import get_ipython

    return get_ipython().user_ns


def _record_summary_calls(model_class) -> None:
    original = model_class.summary
    if getattr(original, "_records_calls", False):
        return

    @functools.wraps(original)
    def summary(self, *args, **kwargs):
        _summary_calls.append(id(self))
        return original(self, *args, **kwargs)

    summary._records_calls = True
    model_class.summary = summary


def _describe_model(model):
    layers = _attempt(lambda: list(model.layers))
    return {
        "id": id(model),
        "class": _class_path(model),
        "mro": _mro(model),
        "built": bool(_attempt(lambda: model.built)),
        "input_shape": _shape(_attempt(lambda: model.input_shape)),
        "layers": [_describe_layer(layer) for layer in layers or []],
    }


def _describe_layer(layer):
    return {
        "id": id(layer),
        "name": _attempt(lambda: str(layer.name)),
        "class": _class_path(layer),
        "mro": _mro(layer),
        "units": _attempt(lambda: int(layer.units)),
        "return_sequences": _attempt(lambda: bool(layer.return_sequences)),
        "use_bias": _attempt(lambda: bool(layer.use_bias)),
        "declared_input_shape": _declared_input_shape(layer),
        "built": bool(_attempt(lambda: layer.built)),
        "weight_shapes": _attempt(lambda: [_shape(w.shape) for w in layer.weights]) or [],
        "count_params": _attempt(lambda: int(layer.count_params())),
        "output_shape": _shape(_attempt(lambda: layer.output.shape)
                               or _attempt(lambda: layer.output_shape)),
    }


def _declared_input_shape(layer):
    batch_shape = getattr(layer, "_batch_input_shape", None)
    if batch_shape is not None:
        return _shape(batch_shape)
    shape = getattr(layer, "_input_shape_arg", None)
    return _shape((None, *shape)) if shape is not None else None


def _shape(shape):
    try:
        return [None if dim is None else int(dim) for dim in shape]
    except Exception:
        return None


def _class_path(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _mro(obj):
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(obj).__mro__]


def _attempt(read):
    try:
        return read()
    except Exception:
        return None
