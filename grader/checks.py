"""Judge layers and summary calls against the spec. Pure functions: no kernel, no I/O.

Parameter counts are computed here from each layer's settings and the layer before it, and
compared with the weights Keras actually created; what a layer says of itself is never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.align import align
from grader.messages import text
from grader.results import CheckResult, LayerView, NetworkRow
from grader.snapshot import LayerState
from grader.spec import ExerciseSpec, LayerSpec


def layer_params(layer_type: str | None, units: int | None, inputs: int | None,
                 use_bias: bool | None = True) -> int | None:
    """Trainable parameters of an LSTM or Dense layer with `inputs` features coming in."""
    if units is None or inputs is None:
        return None
    bias = units if use_bias is not False else 0
    if layer_type == "LSTM":
        return 4 * (units * (inputs + units) + bias)
    if layer_type == "Dense":
        return inputs * units + bias
    return None


def format_shape(shape: Sequence[int | None] | None) -> str | None:
    if shape is None:
        return None
    inner = ", ".join("None" if dim is None else str(dim) for dim in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


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
                 model_input_dim: int | None, lang: str, *, whole_model: bool = False) -> list[CheckResult]:
    """Check layers[start:], the layers one step added, against that step's expected layers
    (`whole_model`: the final model's layers aligned to the step, its own code unknown)."""
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
        declared = model_input_dim if index == 0 else _declared_dim(layers[index]) or layers[index].incoming_features
        layer_checks = _layer_checks(spec, layers[index], incoming, declared, index == 0, lang)
        for check in layer_checks:
            if not check.passed:
                check.explain = _explain(check.name, spec, layers[index], incoming, lang)
        checks.extend(layer_checks)
    if len(added) > len(specs):
        checks.append(CheckResult("layer_count", len(specs), len(added), False,
                                  text("check.extra_layers", lang, expected=len(specs), actual=len(added)),
                                  text("explain.layer_count", lang, expected=len(specs))))
    return checks


def describe(spec: LayerSpec) -> str:
    options = f", return_sequences={spec.return_sequences}" if spec.return_sequences is not None else ""
    return f"{spec.type}({spec.units}{options})"


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


def layer_cost(layer: LayerState, spec: LayerSpec) -> float:
    """How unlike the expected layer a layer is, to align a model's layers to the exercise's."""
    cost = 0.0 if layer.keras_type == spec.type else 0.6
    return cost + (0.3 if layer.units != spec.units else 0.0)


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
    sequences = layer.return_sequences if layer.keras_type == "LSTM" else None
    shown_type = f"{layer.keras_type}({layer.wrapped_type})" if layer.wrapped_type else layer.keras_type
    return LayerView(shown_type or layer.class_path, layer.units, sequences,
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
    """Why a failed layer check matters and how to get it right, with this layer's numbers."""
    if name == "return_sequences":
        return text(f"explain.return_sequences_{str(spec.return_sequences).lower()}", lang)
    if name == "params":
        formula = text(f"explain.params_{spec.type.lower()}", lang, units=spec.units, inputs=incoming or "?",
                       params=_show(layer_params(spec.type, spec.units, incoming) or spec.params))
        mine = layer_params(spec.type, layer.units, incoming, layer.use_bias)
        if mine is None or layer.units == spec.units:
            return formula
        return formula + " " + text(f"explain.params_{spec.type.lower()}_yours", lang, units=layer.units,
                                    inputs=incoming, params=_show(mine))
    return text(f"explain.{name}", lang, expected=spec.units if name == "units" else spec.type,
                dim=spec.input_dim)


def _declared_dim(layer: LayerState) -> int | None:
    shape = layer.declared_input_shape
    return shape[-1] if shape else None


def _layer_checks(spec: LayerSpec, layer: LayerState, incoming: int | None, declared: int | None,
                  first: bool, lang: str) -> list[CheckResult]:
    actual_type = layer.keras_type or layer.class_path
    checks = [_compare("type", spec.type, actual_type, lang),
              _compare("units", spec.units, layer.units, lang)]
    if spec.return_sequences is not None:
        checks.append(_compare("return_sequences", spec.return_sequences, layer.return_sequences, lang))
    # Only the model's first layer must declare its input; a later layer gets it from the layer
    # before, which that layer's step answers for. A later layer that declares one must be right.
    if spec.input_dim is not None and (first or declared is not None):
        checks.append(_compare("input_dim", spec.input_dim, declared, lang,
                               missing=text("value.not_declared", lang)))
    checks.append(_params_check(spec, layer, actual_type, incoming, lang))
    if spec.output_shape is not None:
        checks.append(_shape_check(spec, layer, lang) if layer.built or layer.output_shape is not None
                      or incoming is None else _computed_shape_check(spec, layer, lang))
    return checks


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
    if layer.output_shape is None:
        return CheckResult("output_shape", expected, text("value.unknown", lang), False,
                           text("check.shape_unknown", lang))
    actual = format_shape(layer.output_shape)
    passed = shape_matches(spec.output_shape, layer.output_shape)
    return CheckResult("output_shape", expected, actual, passed,
                       _message("output_shape", expected, actual, passed, lang))


def _computed_shape_check(spec: LayerSpec, layer: LayerState, lang: str) -> CheckResult:
    """A layer Keras has not built yet (a subclassed model's, in Keras 3) with a declared input:
    its output shape follows from its units and return_sequences."""
    expected = format_shape(spec.output_shape)
    sequences = layer.return_sequences if spec.return_sequences is not None else None
    rank_right = sequences is None or sequences == spec.return_sequences
    shape = (*spec.output_shape[:-1], layer.units) if rank_right else \
        ((None, None, layer.units) if sequences else (None, layer.units))
    actual = format_shape(shape)
    passed = shape_matches(spec.output_shape, shape)
    return CheckResult("output_shape", expected, actual, passed,
                       text("check.shape_computed", lang, message=_message("output_shape", expected, actual, passed, lang)))


def _compare(name: str, expected, actual, lang: str, missing: str | None = None) -> CheckResult:
    shown = actual if actual is not None else (missing or text("value.missing", lang))
    passed = actual == expected
    return CheckResult(name, expected, shown, passed, _message(name, expected, shown, passed, lang))


def _message(name: str, expected, actual, passed: bool, lang: str) -> str:
    label = text(f"label.{name}", lang)
    return text("check.pass" if passed else "check.fail", lang, label=label,
                expected=_show(expected), actual=_show(actual))


def _show(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
