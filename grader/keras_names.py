"""The names Keras accepts for a loss, an optimizer and an activation, as data (keras_names.toml):
a spec's `compile.loss`, `compile.optimizer` and `activation` are checked against them without
importing Keras (seconds, 20 on a loaded machine). `python -m grader.keras_names` writes the file
from the installed Keras; tests/test_spec.py checks that it still matches.
"""

from __future__ import annotations

import difflib
import tomllib
from functools import cache
from importlib import import_module
from importlib.resources import files
from pathlib import Path

KINDS = ("losses", "optimizers", "activations")
# Accepted by Keras's `get` but no usable choice: the abstract base of every loss.
_NOT_CHOICES = {"losses": {"Loss"}}
_PATH = files("grader") / "keras_names.toml"


@cache
def keras_names() -> dict[str, frozenset[str]]:
    data = tomllib.loads(_PATH.read_text(encoding="utf-8"))
    return {kind: frozenset(data[kind]) for kind in KINDS}


def known(kind: str, name: str) -> bool:
    """Does Keras accept `name` as one of `kind`? Optimizers in any case, as Keras reads them."""
    names = keras_names()[kind]
    return name in names or kind == "optimizers" and name.lower() in names


def nearest(kind: str, name: str) -> str:
    """The accepted name closest to `name`."""
    names = sorted(keras_names()[kind])
    target = name.lower() if kind == "optimizers" else name
    return (difflib.get_close_matches(target, names, n=1, cutoff=0.0) or names[:1])[0]


def from_keras() -> dict[str, list[str]]:
    """What the installed Keras accepts: each name of its registry that its own `get` resolves."""
    keras = import_module("keras")
    found = {}
    for kind in KINDS:
        registry = import_module(f"keras.src.{kind}").ALL_OBJECTS_DICT
        found[kind] = sorted(name for name in registry
                             if name not in _NOT_CHOICES.get(kind, ()) and _resolves(getattr(keras, kind).get, name))
    return found


def _resolves(get, name: str) -> bool:
    try:
        return get(name) is not None
    except Exception:  # Keras raises many kinds for a name it cannot build alone
        return False


def file_text(names: dict[str, list[str]], version: str) -> str:
    lines = [f"# Generated from Keras {version} by `python -m grader.keras_names`; do not edit.", ""]
    for kind in KINDS:
        lines.append(f"{kind} = [")
        lines += [f'    "{name}",' for name in names[kind]]
        lines += ["]", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    import keras

    Path(str(_PATH)).write_text(file_text(from_keras(), keras.__version__), encoding="utf-8")
    print(f"{_PATH}: written from Keras {keras.__version__}")
