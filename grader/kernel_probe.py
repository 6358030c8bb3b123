"""The only grader code that runs inside the student's kernel.

It reads the state of the student's model as plain data and returns it as JSON text through
`user_expressions`; it never decides a grade. The grader checks everything again and trusts no
number it can compute itself.

Student code runs in the same process, so this module is written not to be fooled by the easy
tricks: the grader reaches `Probe` from a literal (`().__class__.__base__.__subclasses__()`), not
through any name the student could rebind; every builtin used here was bound when the module was
imported, before any student code ran; a layer's settings and weights are read from the
instances' own `__dict__`, past any property or method patched on a Keras class; and the record
of `Model.summary` calls lives here, filled only by the real method's wrapper.
"""

import functools
import json
import numbers
import os
import sys
from builtins import (
    Exception,
    any,
    bool,
    dict,
    enumerate,
    getattr,
    hasattr,
    id,
    int,
    isinstance,
    list,
    set,
    staticmethod,
    str,
    tuple,
    type,
    vars,
)

from IPython import get_ipython

_dumps = json.dumps
_summary_calls = []


class JsonText:
    """An object whose repr is its JSON text, so IPython sends the JSON as text/plain as is."""

    def __init__(self, data):
        self.text = _dumps(data, default=str)

    def __repr__(self):
        return self.text


class Probe:
    """What the grader calls, found by its module and name among object's subclasses."""

    @staticmethod
    def install():
        """Import the Keras this kernel runs and record every call of `Model.summary`."""
        keras = _runtime_keras()
        _record_summary_calls(keras.Model)
        return JsonText({"keras_module": keras.__name__, "keras_version": keras.__version__})

    @staticmethod
    def snapshot(name):
        """The model bound to `name`, and the summary calls since the last snapshot."""
        namespace = get_ipython().user_ns
        defined = name in namespace
        calls = list(_summary_calls)
        del _summary_calls[:]
        return JsonText({"defined": defined, "model": _describe_model(namespace[name]) if defined else None,
                         "summary_calls": calls})

    @staticmethod
    def install_reference(name, layers_json):
        """Bind `name` to the reference model made of `layers`; returns its snapshot."""
        namespace = get_ipython().user_ns
        keras = _model_keras(namespace.get(name)) or _runtime_keras()
        model = keras.Sequential()
        for index, layer in enumerate(json.loads(layers_json)):
            if index == 0:
                model.add(keras.Input(shape=(None, layer["input_dim"])))
            options = {"return_sequences": layer["return_sequences"]} if layer["type"] == "LSTM" else {}
            model.add(getattr(keras.layers, layer["type"])(layer["units"], **options))
        namespace[name] = model
        return Probe.snapshot(name)


def probe_expression(call: str) -> str:
    """The user expression that reaches Probe without any name student code could rebind."""
    return ("[c for c in ().__class__.__base__.__subclasses__() "
            f"if c.__module__ == {__name__!r} and c.__qualname__ == 'Probe'][0].{call}")


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


def _record_summary_calls(model_class):
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
    own, cell = _own(layer), _own(_own(layer).get("cell"))
    return {
        "id": id(layer),
        "name": _attempt(lambda: str(layer.name)),
        "class": _class_path(layer),
        "mro": _mro(layer),
        "units": _integer(own.get("units", cell.get("units"))),
        "return_sequences": _boolean(own.get("return_sequences")),
        "use_bias": _boolean(own.get("use_bias", cell.get("use_bias"))),
        "declared_input_shape": _declared_input_shape(own),
        "built": own.get("built") is True,
        "weight_shapes": _weight_shapes(own, cell),
        "count_params": _attempt(lambda: int(layer.count_params())),
        "output_shape": _shape(_attempt(lambda: layer.output.shape) or _attempt(lambda: layer.output_shape)),
    }


def _own(obj):
    """An object's instance attributes, untouched by properties patched on its class."""
    if obj is None:
        return {}
    return _attempt(lambda: dict(vars(obj))) or {}


def _weight_shapes(*attribute_sets):
    """Shapes of the variables a layer (and its cell) hold as attributes of their own."""
    seen, shapes = set(), []
    for attributes in attribute_sets:
        for value in attributes.values():
            if id(value) not in seen and any(cls.__name__ == "Variable" for cls in type(value).__mro__):
                seen.add(id(value))
                shapes.append(_shape(_attempt(lambda: value.shape)))
    return shapes


def _declared_input_shape(own):
    batch_shape = own.get("_batch_input_shape")
    if batch_shape is not None:
        return _shape(batch_shape)
    shape = own.get("_input_shape_arg")
    return _shape((None, *shape)) if isinstance(shape, (tuple, list)) else None


def _integer(value):
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


def _boolean(value):
    return bool(value) if isinstance(value, (bool, numbers.Integral)) else None


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
