"""The exercise spec: steps, points, expected layers and texts, read from `exercises/<id>/spec.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

EXERCISES = files("grader") / "exercises"  # a link to the repository's exercises/ folder
DEFAULT_EXERCISE = "lstm_network"


@dataclass(frozen=True)
class LayerSpec:
    type: str
    units: int
    return_sequences: bool | None = None
    input_dim: int | None = None
    params: int | None = None
    output_shape: tuple[int | None, ...] | None = None

    def as_probe_data(self) -> dict:
        return {"type": self.type, "units": self.units,
                "return_sequences": bool(self.return_sequences), "input_dim": self.input_dim}


@dataclass(frozen=True)
class StepSpec:
    id: str
    points: int
    title: dict[str, str]
    hint: dict[str, str]
    layers: tuple[LayerSpec, ...] = ()
    creates_model: bool = False
    prints_summary: bool = False

    @property
    def number(self) -> int:
        return int("".join(ch for ch in self.id if ch.isdigit()))


@dataclass(frozen=True)
class Policy:
    """How grading decides where an exercise leaves room (README, "How grading decides"); each is
    a key of the spec's [policy] table."""

    # Layers that only regularise or reshape nothing, accepted between the asked layers (Q1).
    pass_through: frozenset[str] = frozenset({
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
        "GaussianNoise", "AlphaDropout", "ActivityRegularization", "Activation", "Flatten"})
    # No usable model under the model variable: grade the one whose summary was printed, else
    # the only Keras model among the globals (Q2, Q3).
    find_model: bool = True
    # Names the exercise gives the student (its template imports them): defined for a step's code
    # when the notebook's own import of them failed.
    given_names: tuple[str, ...] = ("keras", "Sequential", "Input", "LSTM", "Dense")
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

    @property
    def max_score(self) -> int:
        return sum(step.points for step in self.steps)

    def layers_before(self, step: StepSpec) -> list[LayerSpec]:
        """The reference layers of all steps before `step`."""
        index = self.steps.index(step)
        return [layer for earlier in self.steps[:index] for layer in earlier.layers]


def parse_shape(text: str) -> tuple[int | None, ...]:
    """'(None, None, 50)' -> (None, None, 50)."""
    parts = [part.strip() for part in text.strip().strip("()").split(",") if part.strip()]
    return tuple(None if part == "None" else int(part) for part in parts)


def load_spec(exercise: str | Path = DEFAULT_EXERCISE) -> ExerciseSpec:
    """Load a spec by exercise id (a folder under exercises/) or by path to a spec.toml."""
    path = Path(exercise) if Path(exercise).suffix else EXERCISES / str(exercise) / "spec.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = tuple(_step(raw) for raw in data["steps"])
    return ExerciseSpec(id=data["id"], title=data["title"], model_variable=data["model_variable"],
                        steps=steps, expected_summary=data.get("expected_summary", ""), path=path,
                        policy=_policy(data.get("policy", {})))


def _policy(raw: dict) -> Policy:
    default = Policy()
    return Policy(pass_through=frozenset(raw.get("pass_through", default.pass_through)),
                  find_model=raw.get("find_model", default.find_model),
                  given_names=tuple(raw.get("given_names", default.given_names)),
                  placeholder=raw.get("placeholder", default.placeholder),
                  summary_mark=raw.get("summary_mark", default.summary_mark))


def _step(raw: dict) -> StepSpec:
    layers = tuple(_layer(layer) for layer in raw.get("layers", []))
    return StepSpec(id=raw["id"], points=raw["points"], title=raw["title"], hint=raw["hint"],
                    layers=layers, creates_model=raw.get("creates_model", False),
                    prints_summary=raw.get("prints_summary", False))


def _layer(raw: dict) -> LayerSpec:
    shape = raw.get("output_shape")
    return LayerSpec(type=raw["type"], units=raw["units"],
                     return_sequences=raw.get("return_sequences"), input_dim=raw.get("input_dim"),
                     params=raw.get("params"), output_shape=parse_shape(shape) if shape else None)
