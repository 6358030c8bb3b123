"""Judge layers and summary calls against the spec. Pure functions: no kernel, no I/O.

Parameter counts are computed here from each layer's settings and the layer before it, and
compared with the weights Keras actually created; what a layer says of itself is never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from grader.align import align
from grader.layer_kinds import kind, normalise, spatial_rank, vocabulary
from grader.messages import text
from grader.results import CheckResult, LayerView, NetworkRow
from grader.snapshot import LayerState
from grader.spec import ExerciseSpec, LayerSpec, StepSpec, format_shape


def layer_params(layer_type: str | None, units: int | None, inputs: int | None,
                 use_bias: bool | None = True) -> int | None:
    """Parameters of a layer whose main size is its units (recurrent, Dense) with `inputs` features coming in."""
    layer_kind = kind(layer_type)
    if units is None or inputs is None or layer_kind is None or layer_kind.main != "units":
        return None
    return layer_kind.params({"units": units, "use_bias": use_bias}, (None, inputs))


def main_value(layer: LayerState) -> object:
    """A layer's main size (units, filters, ...): the setting a layer's constructor takes first."""
    layer_kind = kind(layer.keras_type)
    if layer_kind is None or layer_kind.main is None:
        return layer.units
    return settings_of(layer).get(layer_kind.main)


def settings_of(layer: LayerState) -> dict[str, object]:
    """The layer's settings the vocabulary compares, with the fields every layer reports."""
    found = dict(layer.attributes)
    for name in ("units", "return_sequences", "use_bias"):
        if getattr(layer, name) is not None:
            found.setdefault(name, getattr(layer, name))
    return found


def incoming_shape(layers: Sequence[LayerState], index: int, model_input_dim: int | None) -> tuple | None:
    """The shape entering layers[index]: what it is wired to; else the previous layer's output;
    else what the first layer declares."""
    layer = layers[index]
    if layer.input_shape is not None:
        return layer.input_shape
    if index > 0 and layers[index - 1].output_shape is not None:
        return layers[index - 1].output_shape
    if index == 0 and layer.declared_input_shape is not None:
        return layer.declared_input_shape
    if index == 0 and getattr(kind(layer.keras_type), "family", None) == "embedding":
        return (None, None)  # any sequence of ids: Keras 3 builds no model for it until it sees one
    if index > 0 and layers[index - 1].output_shape is None:  # not built yet: what the settings give
        previous = layers[index - 1]
        before = incoming_shape(layers, index - 1, model_input_dim)
        computed = kind(previous.keras_type).output(settings_of(previous), before) if kind(previous.keras_type) else None
        if computed is not None:
            return computed
    features = features_before(layers, index, model_input_dim)
    return None if features is None else (None, None, features)


def shape_matches(expected: Sequence[int | None], actual: Sequence[int | None] | None) -> bool:
    """A None in the expected shape (batch, time) accepts any size there."""
    return actual is not None and len(actual) == len(expected) and all(
        want is None or want == got for want, got in zip(expected, actual))


def features_before(layers: Sequence[LayerState], index: int, model_input_dim: int | None) -> int | None:
    """The feature dimension entering layers[index]: that of the tensor it is wired to, when
    known; else the units of the nearest layer before it that has units (Dropout and the like
    pass features through), else the model's input dimension."""
    if layers[index].incoming_features is not None:
        return layers[index].incoming_features
    for layer in reversed(layers[:index]):
        if layer.units is not None:
            return layer.units
    return model_input_dim


def judge_layers(specs: Sequence[LayerSpec], layers: Sequence[LayerState], start: int,
                 model_input_dim: int | None, lang: str, *, whole_model: bool = False,
                 keras_built: bool = False) -> list[CheckResult]:
    """Check layers[start:], the layers one step added, against that step's expected layers
    (`whole_model`: the final model's layers aligned to the step, its own code unknown). In a model
    `keras_built` (Keras knows its input), a layer Keras did not build failed to build: its settings
    are checked, and it fails. In a model Keras builds later (a subclassed model, an Embedding
    waiting for its first batch), shapes and parameters follow from the settings."""
    added = layers[start:]
    checks: list[CheckResult] = []
    for offset, spec in enumerate(specs):
        if offset >= len(added):
            expected = describe(spec)
            checks.append(CheckResult("layer", expected, text("value.missing", lang), False,
                                      text("check.missing_in_model" if whole_model else "check.missing_layer",
                                           lang, expected=expected),
                                      text("explain.layer", lang, expected=expected)))
            continue
        index = start + offset
        incoming = features_before(layers, index, model_input_dim)
        # A later layer's input is what it is wired to, unless it states another (which Keras 2
        # ignores, but the student's statement about the network is then wrong).
        declared = model_input_dim if index == 0 else _stated_or_miswired(layers, index)
        stated = index > 0 and _declared_dim(layers[index]) is not None
        # Q7 where the exercise gives a later layer no input: the one it states must be what the layer before gives.
        wanted = spec.input_dim if spec.input_dim is not None or not stated else _output_features(layers[index - 1])
        shape_in = incoming_shape(layers, index, model_input_dim)
        if incoming is None and shape_in:
            incoming = shape_in[-1]  # a model Keras builds later: what the layers before give
        layer_checks = _layer_checks(spec, layers[index], incoming, declared, wanted, index == 0, lang, shape_in)
        if keras_built and not layers[index].built:  # no shape, no weights: only its settings can be judged
            layer_checks = [check for check in layer_checks if check.name not in ("params", "output_shape")]
            layer_checks.append(CheckResult("built", text("value.built", lang), text("value.not_built", lang), False,
                                            text("check.not_built", lang), text("explain.built", lang)))
        for check in layer_checks:
            if not check.passed:
                check.explain = text("explain.input_dim_later", lang, dim=wanted) if (check.name, stated) == \
                    ("input_dim", True) else _explain(check.name, spec, layers[index], incoming, lang)
        checks.extend(layer_checks)
    if len(added) > len(specs):
        checks.append(CheckResult("layer_count", len(specs), len(added), False,
                                  text("check.extra_layers", lang, expected=len(specs), actual=len(added),
                                       extra=", ".join(layer_code(layer) for layer in added[len(specs):])),
                                  text("explain.layer_count", lang, expected=len(specs))))
    return checks


def describe(spec: LayerSpec) -> str:
    """The layer as code: `Conv2D(32, kernel_size=(3, 3), activation='relu')`."""
    main = spec.kind.main
    shown = [_value_text(spec.attributes[main])] if main in spec.attributes else []
    order = {name: index for index, name in enumerate(spec.kind.attributes)}  # as Keras's signature has them
    shown += [f"{name}={_value_text(value)}" for name, value in sorted(spec.attributes.items(),
                                                                       key=lambda item: order.get(item[0], 99))
              if name != main]
    return f"{spec.type}({', '.join(shown)})"


def _value_text(value: object) -> str:
    if isinstance(value, dict):
        inner = dict(value)
        inner_type = inner.pop("type")
        return describe(LayerSpec(inner_type, tuple(inner.items())))
    return repr(value) if isinstance(value, str) else str(value)


def judge_summary(called: bool, printed: bool, lang: str) -> list[CheckResult]:
    ran, not_run = text("value.ran", lang), text("value.not_run", lang)
    if not called:
        return [CheckResult("summary_called", ran, not_run, False, text("check.summary_not_called", lang),
                            text("explain.summary_called", lang))]
    checks = [CheckResult("summary_called", ran, ran, True, _message("summary_called", ran, ran, True, lang))]
    shown, silent = text("value.printed", lang), text("value.not_printed", lang)
    if printed:
        checks.append(CheckResult("summary_printed", shown, shown, True,
                                  _message("summary_printed", shown, shown, True, lang)))
    else:
        checks.append(CheckResult("summary_printed", shown, silent, False, text("check.summary_silent", lang),
                                  text("explain.summary_printed", lang)))
    return checks


def judge_model_defined(defined: bool, name: str, lang: str) -> CheckResult:
    if defined:
        return CheckResult("model", name, name, True, _message("model", name, name, True, lang))
    return CheckResult("model", name, text("value.missing", lang), False, text("check.no_model", lang, name=name),
                       text("explain.model", lang, name=name))


def cell_notes(layers: Sequence[LayerState], lang: str) -> list[str]:
    """Q8's note, once for each kind of cell: a bare `RNN(LSTMCell(n))` was graded as `LSTM(n)`."""
    cells = dict.fromkeys((layer.cell_type, layer.keras_type) for layer in layers if layer.cell_type)
    return [text("note.rnn_cell", lang, cell=cell, kind=kind) for cell, kind in cells]


def layer_cost(layer: LayerState, spec: LayerSpec) -> float:
    """How unlike the expected layer a layer is, to align a model's layers to the exercise's."""
    cost = 0.0 if layer.keras_type == spec.type else 0.6
    return cost + (0.3 if main_value(layer) != spec.units else 0.0)


@dataclass(frozen=True)
class Stretch:
    """The layers of a model judged as a whole that one step answers for: for each of the step's
    expected layers, the index of the layer aligned to it (None: missing), and the layers the
    exercise does not have that sit in the step's stretch of the network."""

    matched: tuple[int | None, ...]
    extras: tuple[int, ...] = ()


def stretches(spec: ExerciseSpec, layers: Sequence[LayerState]) -> dict[str, Stretch]:
    """Each step's stretch of a model judged as a whole, its layers aligned to the exercise's. A
    layer the exercise does not have is charged to the step of the next aligned layer (it sits on
    the way to that step's layers); after the last aligned layer, to that layer's step."""
    expected = [(step, number) for step in spec.steps for number in range(len(step.layers))]
    matches = align(layers, [step.layers[number] for step, number in expected], layer_cost)
    matched = {step.id: [None] * len(step.layers) for step in spec.steps}
    extras: dict[str, list[int]] = {step.id: [] for step in spec.steps}
    for index, match in enumerate(matches):
        if match is not None:
            step, number = expected[match]
            matched[step.id][number] = index
            continue
        owner = next((expected[later][0] for later in matches[index:] if later is not None), None) or \
            next((expected[earlier][0] for earlier in reversed(matches[:index]) if earlier is not None), None) or \
            next((step for step in spec.steps if step.layers), None)
        if owner is not None:
            extras[owner.id].append(index)
    return {step.id: Stretch(tuple(matched[step.id]), tuple(extras[step.id])) for step in spec.steps}


def judge_stretch(step: StepSpec, layers: Sequence[LayerState], stretch: Stretch, model_input_dim: int | None,
                  lang: str, *, keras_built: bool = False,
                  reference: Sequence[LayerSpec] | None = None) -> list[CheckResult]:
    """A step of a model judged as a whole: a failed check for each extra layer in its stretch,
    then each expected layer against the layer aligned to it. With `reference` (the exercise's
    layers of the earlier steps, one of which failed), the step's layers are judged as they would
    be on top of those: their settings as written, their shapes and parameters computed on the
    input the exercise gives them, so that an earlier step's mistake costs that step only."""
    own = sorted([*(index for index in stretch.matched if index is not None), *stretch.extras])
    chain, position = list(layers), {index: index for index in own}
    if reference is not None:
        chain, position = _on_reference(reference, layers, own, model_input_dim)
    checks = [_extra_layer_check(step, layers, stretch, index, lang) for index in stretch.extras]
    for spec, index in zip(step.layers, stretch.matched):
        if index is None:
            checks += judge_layers([spec], (), 0, None, lang, whole_model=True)
        else:
            checks += judge_layers([spec], chain[:position[index] + 1], position[index], model_input_dim, lang,
                                   whole_model=True, keras_built=keras_built)
    return checks


def layer_code(layer: LayerState) -> str:
    """A layer as the code that makes it, in short: `LSTM(200, return_sequences=True)`, `Dense(1)`."""
    shown_type = layer.keras_type or layer.class_path.rsplit(".", 1)[-1]
    if layer.wrapped_type:
        return f"{shown_type}({layer.wrapped_type})"
    main = main_value(layer)
    shown = [_show(main)] if main is not None and not isinstance(main, dict) else []
    layer_kind = kind(layer.keras_type)
    if layer_kind is not None and layer_kind.recurrent and layer.return_sequences:
        shown.append("return_sequences=True")
    return f"{shown_type}({', '.join(shown)})"


def _extra_layer_check(step: StepSpec, layers: Sequence[LayerState], stretch: Stretch, index: int,
                       lang: str) -> CheckResult:
    """An extra layer, named, with the step's own layer it sits before (or, at the end, after)."""
    mine = [matched for matched in stretch.matched if matched is not None]
    after = next((matched for matched in mine if matched > index), None)
    before = next((matched for matched in reversed(mine) if matched < index), None)
    key, neighbour = ("check.extra_layer_before", after) if after is not None or before is None else \
        ("check.extra_layer_after", before)
    neighbour_code = layer_code(layers[neighbour]) if neighbour is not None else describe(step.layers[0])
    count = len(mine) + len(stretch.extras)
    return CheckResult("layer_count", len(step.layers), count, False,
                       text(key, lang, layer=layer_code(layers[index]), neighbour=neighbour_code),
                       text("explain.layer_count", lang, expected=len(step.layers)))


def reference_states(specs: Sequence[LayerSpec]) -> list[LayerState]:
    """The exercise's layers as a model built of them shows them: shapes and parameters from their
    kinds' formulas, the first on the input the exercise declares."""
    states: list[LayerState] = []
    shape = None
    for number, spec in enumerate(specs):
        shape = spec.input_shape if shape is None else shape
        output = spec.kind.output(spec.attributes, shape)
        units = spec.attributes.get("units")
        states.append(LayerState(
            id=-1 - number, name=f"reference_{number}", keras_type=spec.type, class_path=spec.type,
            units=units if isinstance(units, int) else None, return_sequences=spec.return_sequences, use_bias=None,
            declared_input_shape=spec.input_shape if number == 0 else None, built=True,
            weight_params=spec.kind.params(spec.attributes, shape), count_params=None, output_shape=output,
            input_shape=shape, attributes=spec.attributes))
        shape = output
    return states


def _on_reference(reference: Sequence[LayerSpec], layers: Sequence[LayerState], own: Sequence[int],
                  model_input_dim: int | None) -> tuple[list[LayerState], dict[int, int]]:
    """The reference layers, then the step's own layers (`own`, indices into `layers`) on what they
    give: the chain to judge, and where each own layer sits in it."""
    chain = reference_states(reference)
    position: dict[int, int] = {}
    shape = chain[-1].output_shape if chain else None
    for index in own:
        layer = _on_input(layers, index, shape, model_input_dim)
        position[index] = len(chain)
        chain.append(layer)
        shape = layer.output_shape
    return chain, position


def _on_input(layers: Sequence[LayerState], index: int, shape: tuple | None,
              model_input_dim: int | None) -> LayerState:
    """layers[index] as it would be on an input of `shape`: the output shape and parameters its own
    settings give there. A layer that takes the model's own input (the first), is wired elsewhere
    than the layer before it (Q4), returns several tensors, or holds weights its settings do not
    give on its real input stays as it is: that is its own doing, which its checks say."""
    layer = layers[index]
    layer_kind = kind(layer.keras_type)
    if layer_kind is None or shape is None or index == 0 or (layer.outputs or 0) > 1 or \
            (_declared_dim(layer) is None and _stated_or_miswired(layers, index) is not None):
        return layer
    settings = settings_of(layer)
    weights = layer.weight_params
    real = layer_kind.params(settings, incoming_shape(layers, index, model_input_dim))
    if weights is not None and real in (None, weights):
        weights = layer_kind.params(settings, shape)
    output = layer_kind.output(settings, shape)
    return replace(layer, input_shape=shape, weight_params=weights,
                   output_shape=output if output is not None else layer.output_shape)


def compare_network(spec: ExerciseSpec, layers: Sequence[LayerState], input_dim: int | None = None,
                    passed: dict[str, bool] | None = None) -> list[NetworkRow]:
    """The student's layers beside the expected ones, aligned. A row's `differs` are the fields
    the layer itself gets wrong, on the same basis as its step's checks (its parameters on the input
    it really gets); a row of a step that passed (`passed`: by step id) whose layer still differs,
    or is absent, because of an earlier step says which one (`carried`)."""
    expected = [(step.id, layer) for step in spec.steps for layer in step.layers]
    matches = align(layers, [layer for _, layer in expected], layer_cost)
    matched = set(matches)
    rows, i, j = [], 0, 0
    while i < len(layers) or j < len(expected):
        if i < len(layers) and matches[i] is None:
            rows.append(NetworkRow(None, None, _view(layers[i]), ["type"]))
            i += 1
        elif j < len(expected) and j not in matched:
            rows.append(NetworkRow(expected[j][0], _spec_view(expected[j][1]), None, ["type"]))
            j += 1
        else:
            step, want = expected[j]
            incoming = features_before(layers, i, input_dim)
            differs = _differs(want, layers[i], incoming)
            if _input_wrong(want, layers, i, input_dim):
                differs.append("input")
            rows.append(NetworkRow(step, _spec_view(want), _view(layers[i], incoming), differs))
            i, j = i + 1, j + 1
    return _mark_carried(spec, rows, passed or {})


def _mark_carried(spec: ExerciseSpec, rows: list[NetworkRow], passed: dict[str, bool]) -> list[NetworkRow]:
    numbers = {step.id: step.number for step in spec.steps}
    for row in rows:
        if row.step is None or not passed.get(row.step):
            continue
        own = numbers[row.step]
        course = row.expected is not None and row.actual is not None and row.actual.params != row.expected.params
        if row.differs or course:
            row.carried = next((numbers[step.id] for step in spec.steps
                                if numbers[step.id] < own and passed.get(step.id) is False), None) or 0
    return rows


def _output_features(layer: LayerState) -> int | None:
    return layer.output_shape[-1] if layer.output_shape else layer.units


def _stated_or_miswired(layers: Sequence[LayerState], index: int) -> int | None:
    """The input dimension a later layer's own check judges: the one it states (Q7), else the one
    it is wired to when that is not the previous layer's output (a functional model wired
    elsewhere); None when it simply takes what the layer before gives, which that layer answers for."""
    layer = layers[index]
    stated = _declared_dim(layer)
    if stated is not None:
        return stated
    previous = _output_features(layers[index - 1])
    wired = layer.incoming_features
    return wired if wired is not None and previous is not None and wired != previous else None


def _input_wrong(spec: LayerSpec, layers: Sequence[LayerState], index: int, input_dim: int | None) -> bool:
    """Does the layer itself get its input wrong, as its input-dimension check judges: the first
    layer declaring another one; a later layer stating one it does not receive (Q7), or wired to
    another tensor than the layer before it (a functional model)?"""
    layer = layers[index]
    if index == 0:
        return spec.input_dim is not None and input_dim is not None and input_dim != spec.input_dim
    previous = next((earlier.units for earlier in reversed(layers[:index]) if earlier.units is not None), None)
    wired, declared = layer.incoming_features, _declared_dim(layer)
    return (declared is not None and declared != (wired or previous)) or \
        (wired is not None and previous is not None and wired != previous)


def _spec_view(spec: LayerSpec) -> LayerView:
    return LayerView(spec.type, spec.units, spec.return_sequences, format_shape(spec.output_shape), spec.params,
                     spec.input_dim)


def _view(layer: LayerState, incoming: int | None = None) -> LayerView:
    layer_kind = kind(layer.keras_type)
    sequences = layer.return_sequences if layer_kind is not None and layer_kind.recurrent else None
    shown_type = f"{layer.keras_type}({layer.wrapped_type})" if layer.wrapped_type else layer.keras_type
    return LayerView(shown_type or layer.class_path, main_value(layer), sequences,
                     format_shape(layer.output_shape), layer.weight_params, _declared_dim(layer) or incoming)


def _differs(spec: LayerSpec, layer: LayerState, incoming: int | None) -> list[str]:
    view = _view(layer)
    differs = [name for name in ("type", "units") if getattr(view, name) != getattr(_spec_view(spec), name)]
    own = layer_params(spec.type, spec.units, incoming)  # what the right layer has on this input
    if view.params != (own if own is not None else spec.params):
        differs.append("params")
    if spec.return_sequences is not None and layer.return_sequences != spec.return_sequences:
        differs.append("return_sequences")
    if spec.output_shape is not None and not shape_matches(spec.output_shape, layer.output_shape):
        differs.append("output_shape")
    return differs


def _explain(name: str, spec: LayerSpec, layer: LayerState, incoming: int | None, lang: str) -> str:
    """Why a failed layer check matters and how to get it right, with this layer's numbers: the
    vocabulary's text for this kind (grader/layers.toml), else the catalogue's, else a general one."""
    if name == "params":
        return _explain_params(spec, layer, incoming, lang)
    name = "input_dim" if name == "vocabulary" else name  # an Embedding's, by its check's name
    own = spec.kind.explain.get(name, {}).get(lang)
    if own:
        return own
    if name not in _EXPLAINED or spec.kind.family == "embedding":
        return text("explain.setting", lang, name=name, expected=_value_text(spec.attributes.get(name, "")))
    if name == "return_sequences":
        return text(f"explain.return_sequences_{str(spec.return_sequences).lower()}", lang)
    return text(f"explain.{name}", lang, expected=spec.units if name == "units" else spec.type,
                dim=spec.input_dim)


def _explain_params(spec: LayerSpec, layer: LayerState, incoming: int | None, lang: str) -> str:
    formula = spec.kind.explain.get("params", {}).get(lang)
    if formula is None:
        return text("explain.params_any", lang)
    expected = layer_params(spec.type, spec.units, incoming) or spec.params
    explained = formula.format(units=spec.units, inputs=incoming or "?", params=_show(expected))
    mine = layer_params(spec.type, layer.units, incoming, layer.use_bias)
    yours = spec.kind.explain.get("params_yours", {}).get(lang)
    if mine is None or layer.units == spec.units or yours is None:
        return explained
    return explained + " " + yours.format(units=layer.units, inputs=incoming, params=_show(mine))


# Failed checks the catalogue explains itself (its [explain] section).
_EXPLAINED = frozenset({"type", "units", "return_sequences", "input_dim", "input_shape", "params", "output_shape", "built",
                        "layer", "layer_count"})


def _declared_dim(layer: LayerState) -> int | None:
    shape = layer.declared_input_shape
    return shape[-1] if shape else None


def _layer_checks(spec: LayerSpec, layer: LayerState, incoming: int | None, declared: int | None,
                  wanted: int | None, first: bool, lang: str, shape_in: tuple | None = None) -> list[CheckResult]:
    actual_type = layer.keras_type or layer.class_path
    shown_type = f"{actual_type}({layer.wrapped_type})" if layer.wrapped_type else actual_type
    checks = [_compare("type", spec.type, shown_type, lang)]
    settings = settings_of(layer)
    main = spec.kind.main
    for name in sorted(spec.attributes, key=lambda name: name != main):  # the main size first
        checks.append(_setting_check(name, spec.attributes[name], settings.get(name), spec.type, lang))
    # Only the model's first layer must declare its input; a later layer gets it from the layer
    # before, which that layer's step answers for. A later layer that declares one must be right.
    if spec.input_shape is not None and len(spec.input_shape) != 3 and first and \
            any(dim is not None for dim in spec.input_shape[1:]):  # (None, None): nothing to declare
        actual = shape_in or layer.declared_input_shape
        passed = actual is not None and shape_matches(spec.input_shape, actual)
        shown = format_shape(actual) if actual is not None else text("value.not_declared", lang)
        checks.append(CheckResult("input_shape", format_shape(spec.input_shape), shown, passed,
                                  _message("input_shape", format_shape(spec.input_shape), shown, passed, lang)))
    elif wanted is not None and (first or declared is not None):
        checks.append(_compare("input_dim", wanted, declared, lang, missing=text("value.not_declared", lang)))
    if spec.kind.main == "units" and spec.kind.family != "bidirectional":
        checks.append(_params_check(spec, layer, actual_type, incoming, lang))
    else:
        checks.append(_kind_params_check(spec, layer, settings, shape_in, lang))
    if spec.output_shape is not None:
        checks.append(_shape_check(spec, layer, lang) if layer.built or layer.output_shape is not None
                      or shape_in is None else _computed_shape_check(spec, layer, shape_in, lang))
    return checks


def _setting_check(name: str, expected: object, actual: object, kind_name: str, lang: str) -> CheckResult:
    """One setting the spec asks for; `kernel_size=3` of a Conv2D is (3, 3), an activation is
    compared by name, a number given as 0.2 may come back as "0.2"."""
    if isinstance(expected, dict):  # a wrapper's layer
        inner = dict(expected)
        inner_type = inner.pop("type")
        want = describe(LayerSpec(inner_type, tuple(inner.items())))
        mine = dict(actual) if isinstance(actual, dict) else {}
        passed = mine.get("type") == inner_type and all(
            normalise(key, mine.get(key), spatial_rank(inner_type)) == value for key, value in inner.items())
        got = describe(LayerSpec(mine.pop("type"), tuple((k, v) for k, v in mine.items() if k in inner))) \
            if mine.get("type") in vocabulary() else text("value.missing", lang)
        return CheckResult(name, want, got, passed, _message(name, want, got, passed, lang))
    actual = normalise(name, actual, spatial_rank(kind_name))
    # An Embedding's input_dim is its vocabulary, not the model's input dimension.
    label = "vocabulary" if (name, kind(kind_name).family) == ("input_dim", "embedding") else name
    return _compare(label, expected, actual, lang)


def _kind_params_check(spec: LayerSpec, layer: LayerState, settings: dict, shape_in: tuple | None,
                       lang: str) -> CheckResult:
    """Parameters of a layer of any kind: its kind's formula on its own settings and real input,
    against the expected layer's on that input, and against the weights Keras created."""
    expected = spec.kind.params(spec.attributes, shape_in)
    layer_kind = kind(layer.keras_type)
    mine = {**settings, "layer": settings.get("layer")} if layer_kind else {}
    computed = layer_kind.params(mine, shape_in) if layer_kind else None
    course = spec.params if spec.params is not None else expected
    if computed is None or expected is None:
        shown = layer.weight_params if layer.weight_params is not None else text("value.unknown", lang)
        passed = expected is not None and shown == expected
        message = text("check.params_unknown", lang) if shape_in is None else _message("params", course, shown, passed, lang)
        return CheckResult("params", course, shown, passed, message)
    if layer.weight_params is not None and layer.weight_params != computed:
        return CheckResult("params", course, layer.weight_params, False,
                           text("check.params_inconsistent", lang, weights=f"{layer.weight_params:,}",
                                computed=f"{computed:,}"))
    return _compare("params", expected, computed, lang)


def _params_check(spec: LayerSpec, layer: LayerState, actual_type: str, incoming: int | None,
                  lang: str) -> CheckResult:
    """The layer's own parameters, computed from its settings and its real input, against what the
    expected layer has on that input. The course's figure is for the course's input; when the
    student's input differs (an earlier step's doing), both figures are shown."""
    expected = layer_params(spec.type, spec.units, incoming)
    computed = layer_params(actual_type, layer.units, incoming, layer.use_bias)
    course = spec.params if spec.params is not None else expected
    if expected is None or computed is None:
        actual = layer.weight_params if computed is None and incoming is not None else None
        shown = actual if actual is not None else text("value.unknown", lang)
        message = (text("check.params_unknown", lang) if incoming is None
                   else _message("params", course, shown, False, lang))
        return CheckResult("params", course, shown, False, message)
    if layer.weight_params is not None and layer.weight_params != computed:
        return CheckResult("params", course, layer.weight_params, False,
                           text("check.params_inconsistent", lang, weights=f"{layer.weight_params:,}",
                                computed=f"{computed:,}"))
    if course is None or expected == course:
        return _compare("params", expected, computed, lang)
    passed = computed == expected
    message = text("check.params_other_input", lang, label=text("label.params", lang), course=_show(course),
                   inputs=incoming, expected=_show(expected), actual=_show(computed), mark="✓" if passed else "✗")
    return CheckResult("params", course, computed, passed, message)


def _shape_check(spec: LayerSpec, layer: LayerState, lang: str) -> CheckResult:
    expected = format_shape(spec.output_shape)
    if layer.output_shape is None and (layer.outputs or 0) > 1:  # return_state=True: the output and the states
        return CheckResult("output_shape", expected, text("value.tensors", lang, count=layer.outputs), False,
                           text("check.several_outputs", lang, count=layer.outputs))
    if layer.output_shape is None:
        return CheckResult("output_shape", expected, text("value.unknown", lang), False,
                           text("check.shape_unknown", lang))
    actual = format_shape(layer.output_shape)
    passed = shape_matches(spec.output_shape, layer.output_shape)
    return CheckResult("output_shape", expected, actual, passed,
                       _message("output_shape", expected, actual, passed, lang))


def _computed_shape_check(spec: LayerSpec, layer: LayerState, shape_in: tuple | None, lang: str) -> CheckResult:
    """A layer Keras builds only later (a subclassed model's in Keras 3, an Embedding waiting for
    its first batch): its output shape follows from its settings and what it receives."""
    expected = format_shape(spec.output_shape)
    layer_kind = kind(layer.keras_type)
    shape = layer_kind.output(settings_of(layer), shape_in) if layer_kind else None
    if shape is None:
        return CheckResult("output_shape", expected, text("value.unknown", lang), False, text("check.shape_unknown", lang))
    actual = format_shape(shape)
    passed = shape_matches(spec.output_shape, shape)
    return CheckResult("output_shape", expected, actual, passed,
                       text("check.shape_computed", lang, message=_message("output_shape", expected, actual, passed, lang)))


def _compare(name: str, expected, actual, lang: str, missing: str | None = None) -> CheckResult:
    """A value the student's code gave (None: it gave none, said as `missing`) against the expected one."""
    passed = actual == expected
    if actual is None:
        shown = missing or text("value.missing", lang)
        return CheckResult(name, expected, shown, passed, _message(name, expected, shown, passed, lang))
    want, got = shown_values(expected, actual, lang)
    label = text(f"label.{name}", lang)
    message = text("check.pass" if passed else "check.fail", lang, label=label, expected=want, actual=got)
    return CheckResult(name, expected, actual, passed, message)


def shown_values(expected: object, actual: object, lang: str) -> tuple[str, str]:
    """An expected and an actual value as the student tells them apart: text is quoted where the
    other is not text (`'True'` where True is expected, as the code would write it), and when the
    two would still read alike, the actual value's type is named ("'True' (a string)")."""
    want, got = _show(expected), _show(actual)
    if isinstance(expected, str) != isinstance(actual, str):
        want, got = _quoted(expected), _quoted(actual)
    if _show(expected) == _show(actual) and type(expected) is not type(actual):
        got = text("value.typed", lang, value=got, type=type_in_words(actual, lang))
    return want, got


def type_in_words(value: object, lang: str) -> str:
    """A value's Python type as the student's language names it: "a string", "字符串"."""
    name = type(value).__name__
    return text(f"value.type_{name}", lang) if name in _TYPE_WORDS else name


_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "tuple", "list"})


def _quoted(value: object) -> str:
    return repr(value) if isinstance(value, str) else _show(value)


def _message(name: str, expected, actual, passed: bool, lang: str) -> str:
    label = text(f"label.{name}", lang)
    return text("check.pass" if passed else "check.fail", lang, label=label,
                expected=_show(expected), actual=_show(actual))


def _show(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
