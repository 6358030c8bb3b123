"""The exercise spec: steps, points, expected layers and texts, read from `exercises/<id>/spec.toml`."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from grader.keras_names import known, nearest
from grader.layer_kinds import LayerKind, normalise, reference_arguments, spatial_rank, vocabulary

EXERCISES = files("grader") / "exercises"  # a link to the repository's exercises/ folder
DEFAULT_EXERCISE = "lstm_network"


class SpecError(ValueError):
    """A spec that cannot be used: one line naming the file, the key and what is allowed."""


@dataclass(frozen=True)
class LayerSpec:
    """An expected layer: a kind of the vocabulary (grader/layers.toml) and the settings the
    exercise cares about; the shape it receives (the first layer's: the model's input)."""

    type: str
    settings: tuple[tuple[str, object], ...] = ()
    input_shape: tuple[int | None, ...] | None = None
    params: int | None = None
    output_shape: tuple[int | None, ...] | None = None

    @property
    def attributes(self) -> dict[str, object]:
        return dict(self.settings)

    @property
    def kind(self) -> LayerKind:
        return vocabulary()[self.type]

    @property
    def units(self) -> int | None:
        """Its main size (units, filters, ...): the setting its constructor takes first."""
        value = self.attributes.get(self.kind.main) if self.kind.main else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def return_sequences(self) -> bool | None:
        return self.attributes.get("return_sequences")

    @property
    def input_dim(self) -> int | None:
        return self.input_shape[-1] if self.input_shape else None

    def as_probe_data(self) -> dict:
        """The reference layer, as the probe builds it (`{"type", "arguments", "input_shape"}`)."""
        return {"type": self.type, "arguments": reference_arguments(self.type, self.attributes),
                "input_shape": list(self.input_shape) if self.input_shape else None}


@dataclass(frozen=True)
class StepSpec:
    id: str
    points: int
    title: dict[str, str]
    hint: dict[str, str]
    layers: tuple[LayerSpec, ...] = ()
    creates_model: bool = False
    checks: tuple[str, ...] = ("layers",)  # kinds of grader/check_kinds.py
    settings: tuple[tuple[str, object], ...] = ()  # the checks' own settings (compile.loss, ...)

    @property
    def prints_summary(self) -> bool:
        return "summary" in self.checks

    def setting(self, key: str) -> object:
        return dict(self.settings).get(key)

    @property
    def number(self) -> int:
        return int("".join(ch for ch in self.id if ch.isdigit()))


@dataclass(frozen=True)
class Policy:
    """How grading decides where an exercise leaves room (README, "How grading decides"); each is
    a key of the spec's [policy] table."""

    # Layers that only regularise, mask or reshape nothing, accepted beside the asked layers (Q1, Q9).
    pass_through: frozenset[str] = frozenset({
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
        "GaussianNoise", "AlphaDropout", "ActivityRegularization", "Activation", "Flatten", "Masking"})
    # No usable model under the model variable: grade the one whose summary was printed, else
    # the only Keras model among the globals (Q2, Q3).
    find_model: bool = True
    # Names the exercise gives the student (its template imports them): defined for a step's code
    # when the notebook's own import of them failed.
    given_names: tuple[str, ...] = ("keras", "Sequential", "Input")
    placeholder: str = "<None>"  # what the template leaves for the student to fill in
    summary_mark: str = "Total params"  # printed by model.summary()


@dataclass(frozen=True)
class ExerciseSpec:
    id: str
    title: dict[str, str]
    model_variable: str
    steps: tuple[StepSpec, ...]
    expected_summary: str
    path: object = field(compare=False)  # a Path, or a resource inside the package
    policy: Policy = field(default_factory=lambda: Policy())
    # The code cells its student notebooks give whole (no step's answer cell: the self-check cell).
    given_code: frozenset[str] = frozenset()

    @property
    def max_score(self) -> int:
        return sum(step.points for step in self.steps)

    def layers_before(self, step: StepSpec) -> list[LayerSpec]:
        """The reference layers of all steps before `step`."""
        index = self.steps.index(step)
        return [layer for earlier in self.steps[:index] for layer in earlier.layers]


def format_shape(shape) -> str | None:
    if shape is None:
        return None
    inner = ", ".join("None" if dim is None else str(dim) for dim in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def parse_shape(text: str) -> tuple[int | None, ...]:
    """'(None, None, 50)' -> (None, None, 50)."""
    parts = [part.strip() for part in text.strip().strip("()").split(",") if part.strip()]
    return tuple(None if part == "None" else int(part) for part in parts)


def load_spec(exercise: str | Path = DEFAULT_EXERCISE) -> ExerciseSpec:
    """Load a spec by exercise id (a folder under exercises/) or by path to a spec.toml. Raises
    SpecError, one line naming the file, the key and what is allowed, for anything unusable."""
    path = Path(exercise) if Path(exercise).suffix else EXERCISES / str(exercise) / "spec.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not TOML: {error}") from None
    return _Reader(path).spec(data)


EXERCISE_ID = re.compile(r"[a-z][a-z0-9_]*")  # an exercise's id: its folder's name under exercises/
SHOWN_CHARS = 60  # of a value a notebook gives, at most this much is repeated in a message


def installed_exercises() -> list[str]:
    return sorted(folder.name for folder in EXERCISES.iterdir() if (folder / "spec.toml").is_file())


def installed_exercise(value: object, where: str) -> str:
    """`value` when it is the id of an exercise under exercises/, never a path: it comes from a
    notebook's metadata, which its student can edit. Else SpecError: one line starting with `where`."""
    if isinstance(value, str) and EXERCISE_ID.fullmatch(value) and value in installed_exercises():
        return value
    shown = repr(value) if len(repr(value)) <= SHOWN_CHARS else repr(value)[:SHOWN_CHARS] + "…"
    raise SpecError(f"{where}: {shown} is not an installed exercise (installed: {', '.join(installed_exercises())})")


# Tables of a step that configure its checks: `compile.loss = "mse"`, `model.output_shape = "(None, 10)"`.
CHECK_SETTINGS = ("compile", "model")
_TOP_KEYS = ("id", "model_variable", "title", "expected_summary", "policy", "steps")
_STEP_KEYS = ("id", "points", "title", "hint", "layers", "creates_model", "checks", "prints_summary", *CHECK_SETTINGS)
_SHAPE_KEYS = ("type", "params", "output_shape", "input_shape", "input_dim")
_POLICY_KEYS = ("pass_through", "find_model", "given_names", "placeholder", "summary_mark")
# Check settings that name a Keras object, and the kind of grader/keras_names.toml they name.
_KERAS_NAMED = {"compile.loss": "losses", "compile.optimizer": "optimizers"}
_SINGULAR = {"losses": "loss", "optimizers": "optimizer", "activations": "activation"}


class _Reader:
    """Reads one spec.toml, checking each key on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.path}: {key}: {problem}")

    def only(self, raw: dict, allowed, where: str, what: str = "unknown key") -> None:
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise self.fail(where + unknown[0], f"{what} (allowed: {', '.join(sorted(allowed))})")

    def need(self, raw: dict, key: str, kind: type, where: str):
        if key not in raw:
            raise self.fail(where + key, "missing")
        value = raw[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self.fail(where + key, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {value!r}")
        return value

    def texts(self, raw: dict, key: str, where: str) -> dict[str, str]:
        value = self.need(raw, key, dict, where)
        missing = [lang for lang in ("zh", "en") if not isinstance(value.get(lang), str)]
        if missing:
            raise self.fail(f"{where}{key}.{missing[0]}", "missing: each text is given in zh and en")
        return value

    def spec(self, data: dict) -> ExerciseSpec:
        self.only(data, _TOP_KEYS, "")
        raw_steps = self.need(data, "steps", list, "")
        if not raw_steps:
            raise self.fail("steps", "an exercise has at least one step")
        steps = tuple(self.step(raw, index) for index, raw in enumerate(raw_steps))
        self.check_figures(steps)
        exercise_id = self.need(data, "id", str, "")
        return ExerciseSpec(id=exercise_id, title=self.texts(data, "title", ""),
                            model_variable=data.get("model_variable", "model"), steps=steps,
                            expected_summary=data.get("expected_summary", ""), path=self.path,
                            policy=self.policy(data.get("policy", {})), given_code=self.given_code(exercise_id))

    def given_code(self, exercise_id: str) -> frozenset[str]:
        """The unmarked code cells of the exercise's student notebooks, beside the spec."""
        given = set()
        for notebook in Path(str(self.path)).parent.glob(f"{exercise_id}*.ipynb"):
            try:
                cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
            except (OSError, ValueError):
                continue
            given |= {_text(cell.get("source")).strip() for cell in cells if isinstance(cell, dict)
                      and cell.get("cell_type") == "code" and "lstm_grader" not in (cell.get("metadata") or {})}
        return frozenset(code for code in given if code)

    def step(self, raw: dict, index: int) -> StepSpec:
        where = f"steps[{index}]."
        if not isinstance(raw, dict):
            raise self.fail(f"steps[{index}]", "expected a table ([[steps]])")
        self.only(raw, _STEP_KEYS, where)
        layers = tuple(self.layer(layer, f"{where}layers[{n}].", first=index == 0 and n == 0)
                       for n, layer in enumerate(raw.get("layers", [])))
        checks = raw.get("checks") or (["summary"] if raw.get("prints_summary") else ["layers"] if layers else [])
        for name in checks:
            if name not in check_kinds():
                raise self.fail(where + "checks", f"unknown check {name!r} (allowed: {', '.join(sorted(check_kinds()))})")
        settings = {f"{group}.{key}": value for group in CHECK_SETTINGS if isinstance(raw.get(group), dict)
                    for key, value in raw[group].items()}
        for key, kind in _KERAS_NAMED.items():
            if key in settings:
                self.keras_name(kind, settings[key], where + key)
        step_id = self.need(raw, "id", str, where)
        if not any(ch.isdigit() for ch in step_id):
            raise self.fail(where + "id", f"{step_id!r}: a step id ends in its number (step1, step2, ...)")
        return StepSpec(id=step_id, points=self.need(raw, "points", int, where),
                        title=self.texts(raw, "title", where), hint=self.texts(raw, "hint", where),
                        layers=layers, creates_model=raw.get("creates_model", index == 0),
                        checks=tuple(checks), settings=tuple(sorted(settings.items())))

    def layer(self, raw: dict, where: str, first: bool) -> LayerSpec:
        if not isinstance(raw, dict):
            raise self.fail(where.rstrip("."), "expected a table ([[steps.layers]])")
        kinds = vocabulary()
        type_name = self.need(raw, "type", str, where)
        if type_name not in kinds:
            raise self.fail(where + "type", f"{type_name!r} is not a layer kind of grader/layers.toml "
                                            f"(known: {', '.join(sorted(kinds))})")
        kind = kinds[type_name]
        self.only(raw, {*_SHAPE_KEYS, *kind.attributes}, where, f"not an attribute of {type_name}")
        for key in kind.attributes:
            if key in raw and not _ATTRIBUTE_TYPES.get(key, lambda value: True)(raw[key]):
                raise self.fail(where + key, f"{raw[key]!r} is not {_ATTRIBUTE_TYPE_NAMES[key]}")
        settings = {key: normalise(key, raw[key], spatial_rank(type_name)) for key in kind.attributes if key in raw}
        if "activation" in settings:
            self.keras_name("activations", settings["activation"], where + "activation")
        if "layer" in settings:
            inner = self.layer(settings["layer"], where + "layer.", first=False)
            settings["layer"] = {"type": inner.type, **inner.attributes}
        input_shape = self.shape(raw, "input_shape", where) if "input_shape" in raw else None
        if "input_dim" in raw and "input_dim" not in kind.attributes:
            dim = self.need(raw, "input_dim", int, where)
            input_shape = (None, None, dim) if kind.recurrent or kind.family == "bidirectional" else (None, dim)
        if first and input_shape is None:
            raise self.fail(where + "input_shape", "the first layer states the model's input (input_shape or input_dim)")
        output_shape = self.shape(raw, "output_shape", where) if "output_shape" in raw else None
        return LayerSpec(type=type_name, settings=tuple(sorted(settings.items())), input_shape=input_shape,
                         params=raw.get("params"), output_shape=output_shape)

    def keras_name(self, kind: str, value: object, key: str) -> None:
        """`value` is a name Keras accepts as one of `kind` (grader/keras_names.toml)."""
        if not isinstance(value, str):
            raise self.fail(key, f"expected text, got {value!r}")
        if not known(kind, value):
            raise self.fail(key, f"{value!r} is not a Keras {_SINGULAR[kind]} (nearest: {nearest(kind, value)!r})")

    def check_figures(self, steps: tuple[StepSpec, ...]) -> None:
        """Each layer's stated params and output_shape against its kind's formulas, on the shape
        the layers before it give it."""
        shape = None
        for step_index, step in enumerate(steps):
            for layer_index, layer in enumerate(step.layers):
                where = f"steps[{step_index}].layers[{layer_index}]."
                shape = layer.input_shape if shape is None else shape
                params = layer.kind.params(layer.attributes, shape)
                if layer.params is not None and params is not None and params != layer.params:
                    raise self.fail(where + "params", f"{layer.params} is not what a {layer.type} with these "
                                                      f"settings has on an input of {format_shape(shape)}: {params}")
                out = layer.kind.output(layer.attributes, shape)
                if layer.output_shape is not None and out is not None and tuple(out) != tuple(layer.output_shape):
                    raise self.fail(where + "output_shape", f"{format_shape(layer.output_shape)} is not what a "
                                                            f"{layer.type} with these settings gives: {format_shape(out)}")
                shape = out if out is not None else layer.output_shape

    def shape(self, raw: dict, key: str, where: str) -> tuple[int | None, ...]:
        try:
            return parse_shape(raw[key]) if isinstance(raw[key], str) else tuple(raw[key])
        except (ValueError, TypeError):
            raise self.fail(where + key, f"{raw[key]!r} is not a shape such as \"(None, 28, 28, 1)\"") from None

    def policy(self, raw: dict) -> Policy:
        default = Policy()
        self.only(raw, _POLICY_KEYS, "policy.")
        return Policy(pass_through=frozenset(raw.get("pass_through", default.pass_through)),
                      find_model=raw.get("find_model", default.find_model),
                      given_names=tuple(raw.get("given_names", default.given_names)),
                      placeholder=raw.get("placeholder", default.placeholder),
                      summary_mark=raw.get("summary_mark", default.summary_mark))


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""


_TYPE_NAMES = {str: "text", int: "a whole number", dict: "a table", list: "a list"}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _sizes(value) -> bool:
    return _whole(value) or (isinstance(value, list) and bool(value) and all(_whole(item) for item in value))


_KINDS_OF_VALUE = {
    "a positive whole number": (_whole, ("units", "filters", "input_dim", "output_dim")),
    "true or false": (lambda value: isinstance(value, bool), ("return_sequences", "use_bias", "mask_zero",
                                                              "reset_after")),
    "a size or a list of sizes, such as 3 or [3, 3]": (_sizes, ("kernel_size", "pool_size", "strides")),
    "text": (lambda value: isinstance(value, str), ("activation", "padding", "merge_mode")),
    "a number": (lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
                 ("rate", "momentum", "epsilon", "axis")),
    "a table such as { type = \"GRU\", units = 64 }": (lambda value: isinstance(value, dict), ("layer",)),
}
_ATTRIBUTE_TYPES = {name: test for test, names in _KINDS_OF_VALUE.values() for name in names}
_ATTRIBUTE_TYPE_NAMES = {name: what for what, (_, names) in _KINDS_OF_VALUE.items() for name in names}


def check_kinds() -> frozenset[str]:
    from grader.check_kinds import CHECK_KINDS  # imported here: the registry's module reads specs
    return frozenset(CHECK_KINDS)
