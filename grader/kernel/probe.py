"""The only grader code that runs inside the student's kernel, and both ends of its channel.

The probe reads the state of the student's model as plain data and answers through
`user_expressions`; it never decides a grade. The grader checks everything again and trusts no
number it can compute itself. `ProbeChannel` is the grader's end.

What it stands against. `Probe.install` runs before any student code (the grader's first request
to a fresh kernel). It captures the real classes of the Keras this kernel runs (`Model`,
`Sequential`, `Layer`, every public layer class, the `Variable` class, `Input`), IPython's user
namespace and the real `Model.summary`, and rebinds every function of this module to a private
copy of its globals and of the builtins, holding those captured objects. So:

- Models, layers and weights are recognised by identity with the captured classes, walking an
  object's real MRO (the `type.__mro__` slot, which no metaclass redirects). A class named like a layer
  with a `keras.*` module string, a spoofed `__class__`, an ABC registration or a fake `Variable`
  with `.shape` is not Keras: no model, no layer, no weight.
- A `Model.summary` call counts only when the real method returned, on a real model.
- What student code rebinds later (names of this module, `builtins`, `json`, `hmac`, `keras.*`)
  does not reach the probe, which only uses what it captured.
- Every answer is signed: HMAC-SHA256, with a key the grader hands to `install` (kept only in the
  signer's closure), over JSON that echoes the nonce of that very request. A notebook that
  replaces `shell.user_expressions`, IPython's formatters or this module's `Probe` can answer
  anything, but not sign it: the grader then reads a `probe_error` (no model), never a forged
  model; and an old answer cannot stand in for a new one.
- Every string is cut to TEXT_CHARS, at most MAX_LAYERS layers, MAX_WEIGHTS weights a layer and
  MAX_DIMS dimensions a shape are reported, so an answer stays a few KiB whatever the notebook
  built; the grader also refuses replies past REPLY_BYTES and counts each against a budget of
  the probe's own (never the notebook's output).
- An audit hook (which no code can remove) records a digest of every source compiled under a
  cell's name, and each snapshot says which parts of IPython's cell pipeline (transformers,
  `run_cell`, the compiler) the notebook's own code changed: the grader compares the digests with
  the text it sent (grader/as_written.py), so a cell rewritten by the notebook's code is found out.

What remains possible: the student's code runs in this very process.
- It can read the key: from the signer's closure, from the frames of a probe that calls into its
  code (a property, a `__str__`), or from raw memory; and then sign anything.
- It can change real objects: a real layer's attributes and weights, properties patched on the
  real Keras classes, the object bound to `model` just before the probe looks (post_execute hooks
  run before the probe's request), and, reaching into the probe's memory, its record of what the
  cells compiled. The probe then reports real objects truthfully.
- A replaced channel can answer with another probe call made with the same nonce (another
  variable's model; `install_reference` with layers the student would have to know: the answer).
The defence for all of these lies outside this process: the clean replay re-runs only the
model-building statements in a fresh kernel where the rest of the notebook never ran, and the
jail keeps the kernel from everything else.
"""

import builtins
import functools
import hmac
import json
import numbers
import os
import secrets
import sys
from _hashlib import hmac_digest as _hmac_digest
from _hashlib import openssl_sha256 as _sha256
from _json import encode_basestring_ascii as _quote
from _json import make_scanner as _make_scanner
from collections.abc import Callable, Iterable
from types import FunctionType, ModuleType
from typing import Any

from IPython import get_ipython

TEXT_CHARS = 200
MAX_LAYERS = 64
MAX_WEIGHTS = 16
MAX_DIMS = 8
MAX_SUMMARY_CALLS = 16
REPLY_BYTES = 2**20  # the largest reply the grader reads
_INT_BOUND = 2**63

_INTEGRAL = numbers.Integral
_MRO = type.__dict__["__mro__"].__get__  # a class's real MRO, whatever its metaclass says
_SCAN_JSON = _make_scanner(json.JSONDecoder())
_ANSWER = None  # the sealed `_answer`, once installed

# Bound at install, in the probe's sealed copy of these globals only.
_MODEL = _SEQUENTIAL = _INPUT = _VARIABLES = _LAYER_TYPES = _USER_NS = _SUMMARY_CALLS = _SIGN = None
_RUNTIME = _KERAS = _SUMMARIZED = _COMPILED = _PIPELINE = _SHELL = _LIBRARY_PATHS = _DIMENSION = None
MAX_COMPILED = 16  # cell sources recorded between two snapshots; one more means "too many"
MAX_GLOBALS = 10_000  # globals looked through for the notebook's model
MAX_ATTRIBUTES = 32  # settings reported of a layer


class JsonText:
    """An object whose repr is its text, so IPython sends the text as text/plain as is."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Probe:
    """What the grader calls, found by its module and name among object's subclasses. Each call
    returns `answer(nonce)`, which the grader's request calls with a fresh nonce."""

    @staticmethod
    def install() -> Callable:
        """`start(key, nonce)`: captures the real Keras and seals the probe with the session key."""
        return _start

    @staticmethod
    def snapshot(name: str, find: bool = True, attributes_json: str = "[]") -> Callable:
        """The model to grade (bound to `name`; else, when `find`, found as `_graded_model` says),
        and the real summary calls since the last snapshot."""
        return _asker("snapshot", name, find, attributes_json)

    @staticmethod
    def install_reference(name: str, layers_json: str, given_json: str = "[]", attributes_json: str = "[]") -> Callable:
        """Bind `name` to the reference model made of `layers`, and each of the `given` names the
        notebook lacks (its import failed) to the real Keras object; answers its snapshot."""
        return _asker("install_reference", name, layers_json, given_json, attributes_json)


def probe_expression(call: str) -> str:
    """The user expression that reaches Probe without any name student code could rebind."""
    return ("[c for c in ().__class__.__base__.__subclasses__() "
            f"if c.__module__ == {__name__!r} and c.__qualname__ == 'Probe'][0].{call}")


# --- the grader's end ---------------------------------------------------------------------------

class ProbeChannel:
    """The grader's end of one kernel's probe. The first request (Probe.install, sent before any
    student code) hands the kernel the session key; every request carries a fresh nonce, and only
    an answer signed with the key over that nonce is read."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key or secrets.token_hex(32)
        self._key_sent = False

    def request(self, expression: str) -> tuple[str, str]:
        """The user expression that asks `expression` with a fresh nonce, and the nonce."""
        nonce = secrets.token_hex(16)
        arguments = repr(nonce) if self._key_sent else f"{self.key!r}, {nonce!r}"
        self._key_sent = True
        return f"({expression})({arguments})", nonce

    def open(self, content: object, nonce: str) -> dict:
        """The probe's data in an execute reply's content, or {"probe_error": why}."""
        result = _field(_field(content, "user_expressions"), "probe")
        if _field(result, "status") != "ok":
            error = f"{_field(result, 'ename') or 'Error'}: {_field(result, 'evalue') or ''}"
            return {"probe_error": error[:TEXT_CHARS]}
        text = _field(_field(result, "data"), "text/plain")
        mac, _, body = text.partition(" ") if isinstance(text, str) else ("", "", "")
        signed = hmac.digest(self.key.encode(), _bytes(body), "sha256").hex().encode()
        if not hmac.compare_digest(_bytes(mac), signed):
            return {"probe_error": "the probe's answer was not signed by the probe: its channel was tampered with"}
        answer = json.loads(body)
        if answer.get("nonce") != nonce or not isinstance(answer.get("data"), dict):
            return {"probe_error": "the probe's answer was not for this request"}
        return answer["data"]


def reply_size(value: object, cap: int) -> int:
    """Roughly how many bytes a decoded JSON `value` holds, counted no further than past `cap`."""
    size, pending = 0, [value]
    while pending and size <= cap:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, (dict, list)):
            size += 2 + len(item)
            if size <= cap:
                pending.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
        else:
            size += 8
    return size


def _field(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# --- in the kernel: installing ------------------------------------------------------------------

def _start(key: str, nonce: str) -> JsonText:
    """Capture the real Keras and seal the probe: once, before any student code runs."""
    global _ANSWER
    if _ANSWER is not None:
        raise RuntimeError("the probe is installed already")
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        _alias_keras_to_tf_keras()
    _stand_in_for_missing_libraries()
    sealed = _seal(_capture())
    sealed["_keep_backend"]()
    sealed["_SIGN"] = sealed["_signer"](key.encode())
    sealed["_record_summary_calls"]()
    sealed["_watch_cells"]()
    # Plain tracebacks: the default mode reads the source of every Keras frame, 0.5 s per error.
    get_ipython().InteractiveTB.set_mode("Plain")
    # The shipped notebooks invite `%grade` cells: while being graded, they do nothing.
    get_ipython().register_magic_function(_while_graded, "line_cell", "grade")
    _ANSWER = sealed["_answer"]
    return _ANSWER("runtime", (), nonce)


def _while_graded(line: str = "", cell: str | None = None) -> None:
    """`%grade` in a notebook being graded: the student's self-check, which the grading itself replaces."""


def _keep_backend() -> None:
    """Keras keeps the TensorFlow backend it was imported with (Q12): `keras.config.set_backend`
    re-imports Keras, whose new classes the probe would not know, and a backend the machine lacks
    (jax, torch) leaves every later `import keras` broken. In a graded kernel it changes nothing;
    KERAS_BACKEND set by the notebook comes after Keras's import and changes nothing either."""
    config = getattr(_KERAS, "config", None)
    if config is not None and hasattr(config, "set_backend"):
        config.set_backend = _backend_kept


def _backend_kept(backend: object = None) -> None:
    """`keras.config.set_backend` while graded: the notebook is graded with the TensorFlow backend."""


def _capture() -> dict:
    """The real objects the probe works with, from the Keras this kernel runs."""
    keras = _runtime_keras()
    if keras.__name__ == "tf_keras":
        import tensorflow
        variables = (tensorflow.Variable,)
    else:
        variables = (keras.Variable,)
    layer_types = {}
    for value in vars(keras.layers).values():
        if isinstance(value, type) and issubclass(value, keras.layers.Layer):
            layer_types.setdefault(id(value), (value, value.__name__))
    return {"_MODEL": keras.Model, "_SEQUENTIAL": keras.Sequential, "_INPUT": keras.Input,
            "_VARIABLES": variables, "_LAYER_TYPES": layer_types, "_USER_NS": get_ipython().user_ns,
            "_SUMMARY_CALLS": [], "_SUMMARIZED": [], "_KERAS": keras,
            "_RUNTIME": {"keras_module": keras.__name__, "keras_version": keras.__version__},
            "_COMPILED": [], "_SHELL": get_ipython(), "_PIPELINE": _pipeline(get_ipython()),
            "_LIBRARY_PATHS": _library_paths(), "_DIMENSION": _dimension()}


def _dimension() -> tuple | None:
    """TensorFlow 1's `Dimension` class (a shape's items under `tf.compat.v1.disable_v2_behavior()`)
    and the reader of its one slot, its value; None where TensorFlow is not loaded."""
    tensor_shape = sys.modules.get("tensorflow.python.framework.tensor_shape")
    dimension = getattr(tensor_shape, "Dimension", None)
    slot = vars(dimension).get("_value") if isinstance(dimension, type) else None
    return (dimension, slot.__get__) if slot is not None and hasattr(slot, "__get__") else None


class _KerasIsTfKeras:
    """Import hook of a Keras 2 kernel: `keras` and `keras.*` are tf_keras and its modules (the
    same objects), as where the course ran `import keras` beside TensorFlow 2."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name != "keras" and not name.startswith("keras."):
            return None
        import importlib.machinery
        return importlib.machinery.ModuleSpec(name, _KerasIsTfKeras)

    @staticmethod
    def create_module(spec):
        import importlib
        return importlib.import_module("tf_keras" + spec.name[len("keras"):])

    @staticmethod
    def exec_module(module) -> None:
        pass


# Modules a course notebook imports beside Keras, which a grading machine may lack; and Keras's
# other backends, which grading does not use (Q12).
COMMON_LIBRARIES = frozenset({"pandas", "sklearn", "matplotlib", "scipy", "seaborn", "statsmodels", "plotly",
                              "jax", "torch"})


class _Missing:
    """A name from a library this machine lacks: importing it works (so the rest of the cell's
    imports take effect), using it raises ModuleNotFoundError naming the library."""

    def __init__(self, library: str) -> None:
        self._library = library

    def _fail(self, *args, **kwargs):
        raise ModuleNotFoundError(f"No module named '{self._library}' (the grading machine does not have it)")

    __call__ = __iter__ = __getitem__ = _fail

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Missing(self._library)


class _StandIns:
    """Import hook, last on sys.meta_path (so only for what no other finder has): stand-ins for the
    common libraries this machine lacks, and for the modules under such a stand-in."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        import importlib.machinery
        root = name.split(".")[0]
        stand_in = name == root or getattr(sys.modules.get(root), "__loader__", None) is _StandIns
        if root not in COMMON_LIBRARIES or not stand_in or _imported_by_installed_code():
            return None
        return importlib.machinery.ModuleSpec(name, _StandIns, is_package=True)

    @staticmethod
    def create_module(spec):
        module = ModuleType(spec.name)
        module.__getattr__ = lambda name: _Missing(spec.name.split(".")[0]) if not name.startswith("__") \
            else (_ for _ in ()).throw(AttributeError(name))
        module.__path__ = []
        return module

    @staticmethod
    def exec_module(module) -> None:
        pass


def _imported_by_installed_code() -> bool:
    """Is the import being found asked for by a library (Keras trying `import sklearn`, which it
    does without)? A stand-in is for the notebook's own imports only: a library gets the real
    ImportError it expects."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame is not None else ""
    installed = (*_library_paths(), os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep)
    return os.path.realpath(filename).startswith(installed)


def _stand_in_for_missing_libraries() -> None:
    sys.meta_path.append(_StandIns)


def _alias_keras_to_tf_keras() -> None:
    import sys
    for name in [name for name in sys.modules if name == "keras" or name.startswith("keras.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _KerasIsTfKeras)


def live_probe() -> dict:
    """The probe's functions, sealed with the real Keras of this process but with no key: for
    `%grade` (grader/magic.py), which reads the student's own live model in the student's kernel."""
    return _seal(_capture())


def _runtime_keras() -> ModuleType:
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras as keras
    else:
        import keras
    return keras


def _seal(captured: dict) -> dict:
    """A private copy of this module's globals and of the builtins, holding `captured`, with every
    function of the module rebound to it: names rebound later on the module or on builtins no
    longer reach the probe."""
    module = globals()
    sealed = {**module, **captured, "__builtins__": dict(vars(builtins))}
    for name, value in module.items():
        if isinstance(value, FunctionType) and value.__globals__ is module:
            sealed[name] = FunctionType(value.__code__, sealed, name, value.__defaults__, value.__closure__)
    return sealed


def _signer(key: bytes) -> Callable:
    """`sign(nonce, data)`: the answer's text; the key lives in this closure only."""
    def sign(nonce: str, data: dict) -> JsonText:
        body = _encode({"nonce": _text(nonce), "data": data})
        return JsonText(_hmac_digest(key, body.encode(), "sha256").hex() + " " + body)
    return sign


def _record_summary_calls() -> None:
    """Wrap the real `Model.summary`: a call counts once the real method returned on a real model."""
    original, calls, summarized = _MODEL.summary, _SUMMARY_CALLS, _SUMMARIZED

    @functools.wraps(original)
    def summary(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if _derives(self, _MODEL):
            if id(self) not in calls and len(calls) < MAX_SUMMARY_CALLS:
                calls.append(id(self))
            summarized[:] = [model for model in summarized if model is not self][-MAX_SUMMARY_CALLS + 1:] + [self]
        return result

    _MODEL.summary = summary


# What turns a cell's text into the code that runs. A notebook that changes it runs other code than
# it holds (an input transformer that writes the answers into the next cells): the grader compares.
_PIPELINE_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
_MANAGER_LISTS = ("line_transforms", "token_transformers")  # its cleanup_transforms are the shell's input_transformers_cleanup
_PIPELINE_METHODS = ("run_cell", "run_cell_async", "_run_cell", "transform_cell", "transform_ast", "run_ast_nodes",
                     "run_code", "should_run_async", "get_ipython")


def _pipeline(shell) -> dict:
    """Each part of IPython's way from a cell's text to running code, by identity."""
    manager = shell.input_transformer_manager
    parts = {name: [id(item) for item in getattr(shell, name)] for name in _PIPELINE_LISTS}
    parts |= {f"input_transformer_manager.{name}": [id(item) for item in getattr(manager, name)]
              for name in _MANAGER_LISTS}
    parts |= {name: id(getattr(shell, name)) for name in ("compile", "input_transformer_manager", "prefilter_manager")}
    parts |= {name: (id(getattr(type(shell), name, None)), name in vars(shell)) for name in _PIPELINE_METHODS}
    return parts


def _library_paths() -> tuple:
    """Where installed code lives (read-only in the jail): the notebook's own code is elsewhere."""
    return tuple({os.path.realpath(path) + os.sep for path in (sys.prefix, sys.base_prefix, "/usr")})


def _is_cell_file(filename: object) -> bool:
    """Is this the name IPython compiles a cell under (ipykernel's or IPython's own)?"""
    if type(filename) is not str:
        return False
    return filename.startswith("<ipython-input-") or (
        filename.endswith(".py") and os.path.basename(os.path.dirname(filename)).startswith("ipykernel_"))


def _watch_cells() -> None:
    """Record a digest of every source compiled under a cell's name, through an audit hook: Python
    offers no way to remove one (PEP 578), so no cell can stop the recording."""
    compiled = _COMPILED

    def hook(event: str, args: tuple) -> None:
        if event != "compile" or len(compiled) > MAX_COMPILED:
            return
        try:
            source, filename = args
            if _is_cell_file(filename) and isinstance(source, (str, bytes)):
                data = _bytes(source) if isinstance(source, str) else bytes(source)
                compiled.append(_sha256(data).hexdigest() if len(compiled) < MAX_COMPILED else "too many")
        except Exception:  # an audit hook's error would be the student's compile error
            pass

    sys.addaudithook(hook)


def _changed_pipeline() -> list:
    """The parts of the cell pipeline changed since the probe was installed, by the notebook's own
    code (a transformer an installed library adds, an extension's, is no change of the notebook's)."""
    now = _pipeline(_SHELL)
    changed = []
    for name, before in _PIPELINE.items():
        if now[name] == before:
            continue
        if name in _PIPELINE_LISTS or name.startswith("input_transformer_manager."):
            added = [item for item in _pipeline_items(name) if id(item) not in before]
            if now[name][:len(before)] == before and all(_from_library(item) for item in added):
                continue
        changed.append(name)
    return changed[:MAX_ATTRIBUTES]


def _pipeline_items(name: str) -> list:
    owner, _, attribute = name.rpartition(".")
    return list(getattr(_SHELL.input_transformer_manager if owner else _SHELL, attribute))


def _from_library(item: object) -> bool:
    """Is this callable's code installed code (by its function's, or its class's, file)?"""
    function = getattr(item, "__func__", item)
    code = getattr(function, "__code__", None)
    filename = code.co_filename if code is not None else None
    if filename is None:
        module = sys.modules.get(getattr(type(item), "__module__", None) or "")
        filename = getattr(module, "__file__", None)
    return type(filename) is str and os.path.realpath(filename).startswith(_LIBRARY_PATHS)


# --- in the kernel: answering (sealed) -----------------------------------------------------------

def _asker(request: str, *args: str) -> Callable:
    answer = _ANSWER
    return lambda nonce: answer(request, args, nonce)


def _answer(request: str, args: tuple, nonce: str) -> JsonText:
    """The signed answer to one of the grader's requests."""
    if type(nonce) is not str:
        raise TypeError("a nonce is text")
    handlers = {"runtime": lambda: _RUNTIME, "snapshot": _snapshot, "install_reference": _install_reference}
    return _SIGN(nonce, handlers[request](*args))


def _snapshot(name: str, find: bool = True, attributes_json: str = "[]") -> dict:
    """The model to grade, with each layer's settings named in `attributes_json` (the vocabulary's)."""
    defined = name in _USER_NS
    calls = _SUMMARY_CALLS[:]
    del _SUMMARY_CALLS[:]
    names = [item for item in _first(_SCAN_JSON(attributes_json, 0)[0], MAX_ATTRIBUTES) if type(item) is str]
    model, found_as = _graded_model(name) if find is True else (_USER_NS.get(name), None)
    described = None if model is None else _describe_model(model, names)
    compiled = _COMPILED[:]
    del _COMPILED[:]
    return {"defined": defined or model is not None, "model": described, "found_as": found_as, "summary_calls": calls,
            "compiled": compiled, "pipeline_changed": _changed_pipeline()}


def _graded_model(name: str) -> tuple:
    """The model to grade, and the name it was found under when that is not `name`: the one bound
    to `name` when it is a Keras model with layers; else the last one whose summary was printed;
    else the only Keras model with layers among the notebook's globals; else whatever `name` holds."""
    value = _USER_NS.get(name) if name in _USER_NS else None
    if _has_layers(value):
        return value, None
    for model in reversed(_SUMMARIZED):
        if _has_layers(model):
            return model, _global_name(model) or "summary()"
    found = [(key, item) for key, item in _first(_USER_NS.items(), MAX_GLOBALS)
             if type(key) is str and not key.startswith("_") and _has_layers(item)]
    if len({id(item) for _, item in found}) == 1:
        return found[0][1], found[0][0]
    return (value, None) if name in _USER_NS else (None, None)


def _has_layers(value: object) -> bool:
    return _derives(value, _MODEL) and bool(_attempt(lambda: len(value.layers)))


def _global_name(model: object) -> str | None:
    return next((key for key, item in _first(_USER_NS.items(), MAX_GLOBALS)
                 if item is model and type(key) is str and not key.startswith("_")), None)


def _install_reference(name: str, layers_json: str, given_json: str = "[]", attributes_json: str = "[]") -> dict:
    for given in _SCAN_JSON(given_json, 0)[0]:
        if type(given) is str and given not in _USER_NS:
            real = _KERAS if given == "keras" else _attempt(lambda: getattr(_KERAS, given)) \
                or next((cls for cls, type_name in _LAYER_TYPES.values() if type_name == given), None)
            if real is not None:
                _USER_NS[given] = real
    model = _SEQUENTIAL()
    for index, layer in enumerate(_SCAN_JSON(layers_json, 0)[0]):
        if index == 0:
            model.add(_INPUT(shape=tuple(layer["input_shape"][1:])))
        model.add(_reference_layer(layer))
    _USER_NS[name] = model
    return _snapshot(name, False, attributes_json)


def _reference_layer(layer: dict) -> object:
    """`{"type": "<Keras layer class>", "arguments": {...}}` as a layer; a wrapper's "layer" argument likewise."""
    arguments = dict(layer["arguments"])
    if isinstance(arguments.get("layer"), dict):
        arguments["layer"] = _reference_layer(arguments["layer"])
    return _layer_class(layer["type"])(**arguments)


def _layer_class(name: str) -> type:
    return next(cls for cls, type_name in _LAYER_TYPES.values() if type_name == name)


def _describe_model(model: object, names: list) -> dict:
    keras_model = _derives(model, _MODEL)
    layers = _attempt(lambda: _first(model.layers, MAX_LAYERS)) if keras_model else None
    return {
        "id": id(model),
        "class": _class_path(model),
        "keras_model": keras_model,
        "built": keras_model and _attempt(lambda: model.built) is True,
        "input_shape": _shape(_attempt(lambda: model.input_shape)) if keras_model else None,
        "build_shape": _build_shape(_own(model)) if keras_model else None,
        "layers": [_describe_layer(layer, names) for layer in layers or []],
        "compiled": _compiled(_own(model)) if keras_model else None,
    }


def _compiled(own: dict) -> dict | None:
    """The loss and optimizer the model was compiled with (both Keras keep them as attributes)."""
    optimizer = own.get("optimizer")
    if optimizer is None:
        return None
    loss = own.get("loss")
    named = _own(loss).get("name") if not isinstance(loss, str) and not _attempt(lambda: loss.__name__) else None
    return {"loss": _text(named) if isinstance(named, str) else _setting(loss),  # a Loss object: its name
            "optimizer": _text(_attempt(lambda: type(optimizer).__name__))}


def _describe_layer(layer: object, names: list) -> dict:
    keras_type = _keras_type(layer)
    described = {"id": id(layer), "name": _text(_attempt(lambda: layer.name)), "class": _class_path(layer),
                 "keras_type": keras_type}
    if keras_type is None:  # not a Keras layer: nothing it says of itself counts
        return described
    own = _own(layer)
    wrapped = _wrapped(own)  # Bidirectional, TimeDistributed: the layer they wrap
    inner = _own(wrapped) if wrapped is not None else own
    cell = _own(inner.get("cell")) if _keras_type(inner.get("cell")) is not None else {}
    cell_layer = _cell_layer(keras_type, own.get("cell"))
    return {
        **described,
        "keras_type": cell_layer or keras_type,
        "cell": _keras_type(own.get("cell")) if cell_layer else None,
        "wrapped_type": _keras_type(wrapped) if wrapped is not None else None,
        "units": _integer(inner.get("units", cell.get("units"))),
        "return_sequences": _boolean(inner.get("return_sequences")),
        "use_bias": _boolean(inner.get("use_bias", cell.get("use_bias"))),
        "declared_input_shape": _declared_input_shape(own),
        "built": own.get("built") is True,
        "weight_shapes": _weight_shapes(layer),
        "count_params": _integer(_attempt(lambda: layer.count_params())),
        "input_shape": _input_shape(layer, own),
        "output_shape": _output_shape(layer, own),
        "outputs": _output_count(layer),
        "attributes": _settings(own, {}, names),
        "wrapped_attributes": _settings(inner, cell, names) if wrapped is not None else None,
        "cell_attributes": _settings(cell, {}, names) if cell else None,
    }


def _cell_layer(keras_type: str | None, cell: object) -> str | None:
    """The recurrent layer a bare `RNN` of one cell is (Q8): `RNN(LSTMCell(50))` is `LSTM`, as its
    cell's Keras class without "Cell" names a layer of this Keras (GRUCell: GRU; SimpleRNNCell:
    SimpleRNN). Stacked cells are none."""
    cell_type = _keras_type(cell)
    if keras_type != "RNN" or cell_type is None or not cell_type.endswith("Cell"):
        return None
    name = cell_type[:-len("Cell")]
    for _, type_name in _LAYER_TYPES.values():
        if type_name == name:
            return name
    return None


def _settings(own: dict, cell: dict, names: list) -> dict:
    """The named settings a layer (or its cell) holds as plain data: numbers, text, shapes, and a
    function (an activation) by its name."""
    settings = {}
    for name in names:
        value = own.get(name, cell.get(name))
        if value is not None:
            settings[name] = _setting(value)
    return settings


def _setting(value: object) -> object:
    if isinstance(value, (bool, str)) or type(value) is int:
        return value if not isinstance(value, str) else _text(value)
    if isinstance(value, _INTEGRAL):
        return _integer(value)
    if type(value) is float:
        return value if float.__sub__(value, value) == 0.0 else None  # finite: JSON has no NaN or infinity
    if isinstance(value, (tuple, list)):
        return _shape(value)
    if callable(value):
        return _text(_attempt(lambda: value.__name__))
    return None


def _build_shape(own: dict) -> list | None:
    """The input shape `model.build(...)` was given (Keras 3 keeps it in a dict, Keras 2 as is)."""
    shapes = own.get("_build_shapes_dict")  # a tracked dict (a subclass): read through dict's own methods
    values = _attempt(lambda: list(dict.values(shapes))) if isinstance(shapes, dict) else None
    if values is not None and len(values) == 1:
        return _shape(values[0])
    return _shape(own.get("_build_input_shape"))


def _wrapped(own: dict) -> object:
    for key in ("forward_layer", "layer"):
        if _keras_type(own.get(key)) is not None:
            return own[key]
    return None


def _derives(obj: object, cls: type) -> bool:
    """Is `cls` in the real MRO of obj's type? By identity: no name, `__class__` or ABC registry."""
    for klass in _MRO(type(obj)):
        if klass is cls:
            return True
    return False


def _keras_type(obj: object) -> str | None:
    """The name of the captured Keras layer class nearest obj's type in its real MRO, if any."""
    for klass in _MRO(type(obj)):
        entry = _LAYER_TYPES.get(id(klass))
        if entry is not None and entry[0] is klass:
            return entry[1]
    return None


def _is_variable(value: object) -> bool:
    for variable in _VARIABLES:
        if _derives(value, variable):
            return True
    return False


def _own(obj: object) -> dict:
    """An object's instance attributes, untouched by properties patched on its class."""
    own = _attempt(lambda: vars(obj))
    return own if type(own) is dict else {}


def _weight_shapes(layer: object) -> list:
    """Shapes of the real variables a layer holds as attributes of its own, and those of the
    layers it holds (a recurrent layer's cell, the two directions of a Bidirectional), a few levels deep."""
    seen, shapes, layers = set(), [], [(layer, 0)]
    while layers:
        current, depth = layers.pop(0)
        for value in list(_own(current).values()):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if _is_variable(value) and len(shapes) < MAX_WEIGHTS:
                shapes.append(_shape(_attempt(lambda: value.shape)))
            elif depth < 3 and _keras_type(value) is not None:
                layers.append((value, depth + 1))
    return shapes


def _declared_input_shape(own: dict) -> list | None:
    batch_shape = own.get("_batch_input_shape")
    if batch_shape is not None:
        return _shape(batch_shape)
    shape = own.get("_input_shape_arg")
    dims = _attempt(lambda: _first(shape, MAX_DIMS)) if isinstance(shape, (tuple, list)) else None
    return _shape([None, *dims]) if dims is not None else None


def _input_shape(layer: object, own: dict) -> list | None:
    """The shape of the tensor the layer is wired to, else the one it was built on: a layer called
    on data (a subclassed model called on a batch) is built, but Keras keeps no tensor of the call."""
    shape = _shape(_attempt(lambda: layer.input.shape))
    return shape if shape is not None else _build_shape(own)


def _output_shape(layer: object, own: dict) -> list | None:
    """The shape of the layer's output tensor, else the one it declares (tf_keras), else, for a
    layer built on data (no tensor kept), the one Keras computes for the shape it was built on."""
    shape = _attempt(lambda: layer.output.shape)
    if _attempt(lambda: bool(shape)) is not True:
        shape = _attempt(lambda: layer.output_shape)
    result = _shape(shape)
    built_on = _build_shape(own) if result is None and own.get("built") is True else None
    if built_on is not None:
        result = _shape(_attempt(lambda: layer.compute_output_shape(tuple(built_on))))
    return result


def _output_count(layer: object) -> int | None:
    """How many tensors the layer returns, when it returns a list of them (an LSTM with
    return_state=True: its output and its two states, 3); None for one tensor."""
    output = _attempt(lambda: layer.output)
    if type(output) not in (list, tuple):
        return None
    return _attempt(lambda: len(output))


def _shape(shape: object) -> list | None:
    """At most MAX_DIMS dimensions, each an int or None (a TensorFlow 1 `Dimension` by its
    value); None for anything else."""
    dims = _attempt(lambda: _first(shape, MAX_DIMS + 1))
    if dims is None or len(dims) > MAX_DIMS:
        return None
    result = []
    for dim in dims:
        if _DIMENSION is not None and _derives(dim, _DIMENSION[0]):
            dim = _attempt(lambda: _DIMENSION[1](dim))
        value = None if dim is None else _integer(dim)
        if dim is not None and value is None:
            return None
        result.append(value)
    return result


def _first(iterable: Iterable, count: int) -> list:
    items = []
    for item in iterable:
        if len(items) == count:
            break
        items.append(item)
    return items


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, _INTEGRAL):
        return None
    number = _attempt(lambda: int(value))
    return number if type(number) is int and -_INT_BOUND < number < _INT_BOUND else None


def _boolean(value: object) -> bool | None:
    return _attempt(lambda: bool(value)) if isinstance(value, (bool, _INTEGRAL)) else None


def _text(value: object) -> str | None:
    """`value` as text of at most TEXT_CHARS characters, or None."""
    text = None if value is None else _attempt(lambda: str.__str__(str(value)))
    return None if text is None else text[:TEXT_CHARS]


def _class_path(obj: object) -> str | None:
    return _text(_attempt(lambda: f"{type(obj).__module__}.{type(obj).__qualname__}"))


def _encode(value: object) -> str:
    """JSON text of plain data, built only from exact builtin types; anything else is null."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value) if float.__sub__(value, value) == 0.0 else "null"
    if kind is str:
        return _quote(value)
    if kind is list:
        return "[" + ",".join([_encode(item) for item in value]) + "]"
    if kind is dict:
        return "{" + ",".join([_quote(key) + ":" + _encode(item) for key, item in value.items()
                               if type(key) is str]) + "}"
    return "null"


def _attempt(read: Callable) -> Any:
    try:
        return read()
    except Exception:
        return None
