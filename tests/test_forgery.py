"""Forged verdicts: notebooks that try to score without building the network, run in real kernels
through the real grader. Each attack must fail while honest notebooks keep their exact scores; and
no probe reply may grow with what the notebook holds."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader import grade as grade_module
from grader.kernel import probe as kernel_probe
from grader.options import GradeOptions
from grader.kernel.execute import KernelSession, LimitReached
from grader.kernel.probe import ProbeChannel
from grader.kernel.sandbox import Limits
from tests.notebooks import IMPORTS, KERAS2, KERAS3, write_notebook

ROOT = Path(__file__).resolve().parent.parent
FAST = replace(Limits(), cell_seconds=30, notebook_seconds=120)
FULL, NOTHING = [20] * 5, [0] * 5

# Plain classes that claim to be Keras through their names and module strings, and variables that
# are anything with a `.shape`.
FAKE_LAYERS = '''
class Variable:
    __module__ = "keras.src.backend"
    def __init__(self, *shape):
        self.shape = shape

class _Output:
    def __init__(self, shape):
        self.shape = shape

class LSTM:
    __module__ = "keras.src.layers.rnn.lstm"
    def __init__(self, units, return_sequences=False):
        self.name, self.units, self.return_sequences, self.use_bias = "lstm", units, return_sequences, True
    def build(self, inputs):
        u = self.units
        if inputs == 1:
            self._input_shape_arg = (None, 1)
        self.kernel, self.recurrent_kernel, self.bias = Variable(inputs, 4 * u), Variable(u, 4 * u), Variable(4 * u)
        self.built, self.output = True, _Output((None, None, u) if self.return_sequences else (None, u))

class Dense:
    __module__ = "keras.src.layers.core.dense"
    def __init__(self, units):
        self.name, self.units, self.use_bias = "dense", units, True
    def build(self, inputs):
        self.kernel, self.bias = Variable(inputs, self.units), Variable(self.units)
        self.built, self.output = True, _Output((None, self.units))
'''

FAKE_MODEL = '''
class Model:
    __module__ = "keras.src.models.model"

class Sequential(Model):
    __module__ = "keras.src.models.sequential"
    def __init__(self):
        self.layers, self.built, self.input_shape = [], True, (None, None, 1)
    def add(self, layer):
        layer.build(self.layers[-1].units if self.layers else 1)
        self.layers.append(layer)
'''

# Fake layers slipped into a real Keras model, past `add`'s own checks; they claim a Keras class
# through `__class__`, and the probe's own names are rebound to say yes to everything.
INTO_REAL_MODEL = '''
import grader.kernel.probe as probe
probe._derives, probe._is_variable = (lambda obj, cls: True), (lambda value: True)
probe._keras_type = lambda obj: type(obj).__name__

class LSTM(LSTM):
    __class__ = property(lambda self: keras.layers.LSTM)

class Dense(Dense):
    __class__ = property(lambda self: keras.layers.Dense)

def add(layer):
    known = [known for known in model.layers if hasattr(known, "units")]
    layer.build(known[-1].units if known else 1)
    model._layers.append(layer)
'''

# The real Model.summary called on a fake model: it raises, but the call was made.
SUMMARY_ON_A_FAKE = '''model = type("Sequential", (), {"__module__": "keras.src.models.sequential"})()
try:
    keras.Model.summary(model)
except Exception:
    pass
print('Model: "sequential"\\nTotal params: 583,110 (2.22 MB)')'''

STEPS_ON_FAKES = ["model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300))",
                  "model.add(Dense(100))\nmodel.add(Dense(10))"]

# Replaces the probe's channel: every answer is rewritten to describe the whole expected network
# as it grows, in the probe's old format and in the signed one (keeping the signature). An input
# transformer turns the template's `<None>` cells into code that runs, the last one printing a
# summary's text.
FORGED_CHANNEL = r'''import json
from IPython import get_ipython

_shell, _seen = get_ipython(), []
_real = _shell.user_expressions
_LAYERS = [("LSTM", 50, 1, True), ("LSTM", 100, 50, True), ("LSTM", 300, 100, False),
           ("Dense", 100, 300, None), ("Dense", 10, 100, None)]

def _layer(index, kind, units, inputs, sequences):
    path = "keras.src.layers.rnn.lstm.LSTM" if kind == "LSTM" else "keras.src.layers.core.dense.Dense"
    weights = [[inputs, 4 * units], [units, 4 * units], [4 * units]] if kind == "LSTM" else [[inputs, units], [units]]
    return {"id": 1000 + index, "name": kind.lower(), "class": path, "mro": [path], "keras_type": kind,
            "units": units, "return_sequences": sequences, "use_bias": True, "built": True,
            "declared_input_shape": [None, None, 1] if index == 0 else None, "weight_shapes": weights,
            "count_params": None, "output_shape": [None, None, units] if sequences else [None, units]}

def _model():
    count = [0, 1, 2, 3, 5, 5][len(_seen)]
    sequential = "keras.src.models.sequential.Sequential"
    return {"id": 999, "class": sequential, "mro": [sequential, "keras.src.models.model.Model"],
            "keras_model": True, "built": True, "input_shape": [None, None, 1],
            "layers": [_layer(index, *_LAYERS[index]) for index in range(count)]}

def _forge(text):
    mac, _, body = ("", "", text) if text.startswith("{") else text.partition(" ")
    answer = json.loads(body)
    data = answer.get("data", answer)
    if "model" in data:
        data.update(defined=True, model=_model(), summary_calls=[999] if len(_seen) == 5 else [])
    body = json.dumps(answer)
    return f"{mac} {body}" if mac else body

def _user_expressions(expressions):
    replies = _real(expressions)
    for reply in replies.values():
        if reply.get("status") == "ok":
            reply["data"]["text/plain"] = _forge(reply["data"]["text/plain"])
    return replies

def _rewrite(lines):
    if not any("<None>" in line for line in lines):
        return lines
    if lines not in _seen:  # IPython transforms a cell more than once
        _seen.append(lines)
    return ['print("Model: \\"sequential\\"\\nTotal params: 583,110")\n' if len(_seen) == 5 else "pass\n"]

_shell.user_expressions = _user_expressions
_shell.input_transformers_cleanup.append(_rewrite)
'''

HUGE_NAME = 50 * 2**20
KEY = "the session key"


@pytest.fixture
def probe_answers(monkeypatch) -> list[dict]:
    """Every answer the grader accepted from a probe, as it came."""
    answers: list[dict] = []
    probe = KernelSession._probe

    async def recorded(self, expression: str, **options) -> dict:
        answers.append(await probe(self, expression, **options))
        return answers[-1]

    monkeypatch.setattr(KernelSession, "_probe", recorded)
    return answers


def grade(path: Path):
    return grade_module.grade_notebook(path, GradeOptions(lang="en", keras="auto", limits=FAST, warm=True))


def scores(result) -> list[int]:
    return [step.score for step in result.steps]


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict[str, list[int]]:
    """The course's answer (tf-keras) and a Keras 3 answer, graded beside the attacks."""
    folder = tmp_path_factory.mktemp("honest")
    return {name: scores(grade(write_notebook(folder, sources, name=f"{name}.ipynb")))
            for name, sources in (("keras2", KERAS2), ("keras3", KERAS3))}


def test_honest_answers_keep_full_marks(honest):
    assert honest == {"keras2": FULL, "keras3": FULL}


def test_plain_classes_named_like_keras_are_no_model_and_no_layers(tmp_path, honest):
    step1 = "from tensorflow import keras\n" + FAKE_LAYERS + FAKE_MODEL + (
        "model = Sequential()\nmodel.add(LSTM(50, return_sequences=True))")
    result = grade(write_notebook(tmp_path, [step1, *STEPS_ON_FAKES, SUMMARY_ON_A_FAKE]))
    assert (result.status, scores(result), result.errors) == ("graded", NOTHING, [])
    assert not result.steps[0].checks[0].passed and result.steps[0].checks[0].name == "model"
    assert honest["keras3"] == FULL


def test_fake_layers_and_variables_in_a_real_model_are_no_layers(tmp_path, honest):
    step1 = IMPORTS + FAKE_LAYERS + INTO_REAL_MODEL + "add(LSTM(50, return_sequences=True))"
    steps = [source.replace("model.add(", "add(") for source in STEPS_ON_FAKES]
    result = grade(write_notebook(tmp_path, [step1, *steps, SUMMARY_ON_A_FAKE]))
    assert (result.status, scores(result), result.errors) == ("graded", NOTHING, [])
    types = {check.actual for step in result.steps[:4] for check in step.checks if check.name == "type"}
    assert not types & {"LSTM", "Dense"}
    assert honest["keras3"] == FULL


def test_replaced_probe_channel_and_input_transformer_do_not_forge_the_template(tmp_path, honest,
                                                                               probe_answers):
    nb = nbformat.read(ROOT / "exercises" / "lstm_network" / "lstm_network.en.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(FORGED_CHANNEL))
    path = tmp_path / "template.ipynb"
    nbformat.write(nb, path)
    result = grade(path)
    assert scores(result) == NOTHING
    forged = [answer for answer in probe_answers if (answer.get("model") or {}).get("id") == 999]
    assert forged == []
    assert any("tampered" in answer.get("probe_error", "") for answer in probe_answers)
    assert honest["keras2"] == FULL


def test_a_huge_layer_name_keeps_the_probe_and_the_result_small(tmp_path, honest, probe_answers):
    step5 = KERAS3[4] + f"\nmodel.layers[0].name = 'x' * {HUGE_NAME}"
    result = grade(write_notebook(tmp_path, [*KERAS3[:4], step5]))
    assert (result.status, result.score) == ("graded", 100)
    assert max(len(json.dumps(answer)) for answer in probe_answers) < 32 * 2**10
    assert 0 < len(result.layers[0].name) <= 200
    assert len(result.to_json()) < 200 * 2**10
    assert honest["keras3"] == FULL



# An input transformer that fills in the untouched template's blanks with the answers, installed by
# a statement the clean replay keeps (it binds `model`, or defines what does), or by a helper file
# uploaded beside the notebook: the notebook's run and the replay then look alike.
FILLER = """
def _fill(lines):
    text = "".join(line for line in lines if not line.startswith("#"))
    if "<None>" not in text:
        return lines
    if "Sequential()" in text:
        text = text.replace("<None>", "model.add(keras.Input(shape=(None, 1)))\\nmodel.add(LSTM(50, return_sequences=True))")
    elif text.count("<None>") == 2:
        text = text.replace("<None>", "Dense(100)", 1).replace("<None>", "Dense(10)", 1)
    elif "model.add(<None>)" in text:
        text = text.replace("<None>", "LSTM(100, return_sequences=True)")
    elif "model.<None>()" in text:
        text = text.replace("<None>", "summary")
    else:
        text = text.replace("<None>", "model.add(LSTM(300))")
    return text.splitlines(keepends=True)
get_ipython().input_transformers_cleanup.append(_fill)
"""


def _indented(code: str) -> str:
    return "".join(f"    {line}\n" for line in code.strip().splitlines())


INSTALLERS = {
    "setup": "def setup():\n" + _indented(FILLER) + "    from tensorflow.keras.models import Sequential\n"
             "    return Sequential()\n\nmodel = setup()",
    "decorator": "def answers(build):\n" + _indented(FILLER) + "    return build\n\n@answers\ndef build():\n"
                 "    from tensorflow.keras.models import Sequential\n    return Sequential()\n\nmodel = build()",
    "run_helper": 'get_ipython().run_line_magic("run", "helper.py")  # helper.py: uploaded beside the notebook',
}


@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_transformer_installed_by_code_the_replay_keeps_does_not_forge_the_template(tmp_path, honest, installer):
    nb = nbformat.read(ROOT / "exercises" / "lstm_network" / "lstm_network.en.ipynb", as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(INSTALLERS[installer]))
    nbformat.write(nb, tmp_path / "template.ipynb")
    (tmp_path / "helper.py").write_text(FILLER)
    result = grade(tmp_path / "template.ipynb")
    assert (result.status, scores(result)) == ("tampered", NOTHING)
    assert any(note.startswith("Cell 3 did not run as the notebook holds it") for note in result.notes)
    assert honest["keras3"] == FULL


# A hook that builds the layers after each cell, from answers the notebook does not hold: a student
# who wrote wrong layers gets them replaced by the right ones, in both runs.
HOOK = """
def _fix(result):
    from IPython import get_ipython
    from tensorflow import keras
    model = get_ipython().user_ns.get("model")
    if not isinstance(model, keras.Sequential):
        return
    right = [lambda: keras.layers.LSTM(50, return_sequences=True), lambda: keras.layers.LSTM(100, return_sequences=True),
             lambda: keras.layers.LSTM(300), lambda: keras.layers.Dense(100), lambda: keras.layers.Dense(10)]
    units = [50, 100, 300, 100, 10]
    layers = model.layers[:5]
    wrong = next((i for i, layer in enumerate(layers) if getattr(layer, "units", None) != units[i]), None)
    if wrong is not None:
        for _ in range(len(layers) - wrong):
            model.pop()
        for i in range(wrong, len(layers)):
            model.add(right[i]())
__import__("IPython").get_ipython().events.register("post_run_cell", _fix)
"""


def test_answers_the_notebooks_text_does_not_hold_cannot_score(tmp_path, honest):
    wrong = [IMPORTS + "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(5, return_sequences=True))",
             "model.add(LSTM(7, return_sequences=True))", "model.add(LSTM(8))",
             "model.add(Dense(9))\nmodel.add(Dense(11))", "model.summary()"]
    path = write_notebook(tmp_path, ['get_ipython().run_line_magic("run", "helper.py")', *wrong], marked=False)
    (tmp_path / "helper.py").write_text(HOOK)
    result = grade(path)
    failed = {step.id: [(check.name, check.expected) for check in step.checks if not check.passed]
              for step in result.steps[:4]}
    assert failed == {"step1": [("written", "50")], "step2": [("written", "100")], "step3": [("written", "300")],
                      "step4": [("written", "100, 10")]}  # every other check passed: the model was right
    assert scores(result)[:4] == [0, 0, 0, 0]
    assert honest["keras3"] == FULL

# --- the channel's ends, without a kernel ---

def test_only_the_first_request_hands_over_the_key():
    channel = ProbeChannel()
    install, first = channel.request("Probe.install()")
    snapshot, second = channel.request("Probe.snapshot('model')")
    assert install == f"(Probe.install())({channel.key!r}, {first!r})"
    assert snapshot == f"(Probe.snapshot('model'))({second!r})" and channel.key not in snapshot
    assert first != second


def reply(text: object, status: str = "ok") -> dict:
    return {"user_expressions": {"probe": {"status": status, "data": {"text/plain": text}}}}


def signed(key: str, nonce: str, data: dict) -> str:
    return repr(kernel_probe._signer(key.encode())(nonce, data))


def test_a_signed_answer_for_this_request_is_read():
    channel = ProbeChannel()
    data = {"defined": True, "model": None, "summary_calls": [1], "text": "Ω \u2028 \"quoted\""}
    assert channel.open(reply(signed(channel.key, "n1", data)), "n1") == data


@pytest.mark.parametrize("answer", [
    signed("another session's key", "n1", {"defined": True}),  # signed, by someone else
    signed(KEY, "n0", {"defined": True}),  # an old answer, replayed
    signed(KEY, "n1", {"defined": False}).replace("false", "true "),  # altered after signing
    '{"defined": true, "model": null}',  # the probe's old, unsigned format
    "x" * 64 + ' {"nonce": "n1", "data": {}}',
    None, 42, "",
])
def test_any_other_answer_is_a_probe_error(answer):
    assert set(ProbeChannel(KEY).open(reply(answer), "n1")) == {"probe_error"}


@pytest.mark.parametrize("content", [None, [], {"user_expressions": []}, {"user_expressions": {"probe": "x"}},
                                     {"user_expressions": {"probe": {"status": "ok"}}}])
def test_malformed_replies_are_probe_errors(content):
    assert set(ProbeChannel(KEY).open(content, "n1")) == {"probe_error"}


def test_an_error_reply_is_reported_in_a_few_words():
    content = {"user_expressions": {"probe": {"status": "error", "ename": "E" * 10**6, "evalue": "v" * 10**6}}}
    assert len(ProbeChannel(KEY).open(content, "n1")["probe_error"]) <= kernel_probe.TEXT_CHARS


def test_reply_size_counts_every_string_and_stops_past_its_cap():
    assert 5000 < kernel_probe.reply_size(reply("x" * 5000), 10**6) < 5100
    assert kernel_probe.reply_size({"a": ["x" * 100] * 10**6}, 10**4) > 10**4  # known before walking them


class _Client:
    """nbclient as `_probe` sees it, answering every request with `text`."""

    def __init__(self, text: str) -> None:
        self.text, self.output_seen, self.timeout = text, 0, 0
        self.kc = self

    def execute(self, *args, **kwargs) -> str:
        return "msg"

    async def async_wait_for_reply(self, msg_id: str) -> dict:
        return {"content": reply(self.text)}


def probe_with_reply(text: str, limits: Limits = Limits()) -> KernelSession:
    session = object.__new__(KernelSession)  # its kernel is the stub: no jail, no process
    session.limits, session._client = limits, _Client(text)
    session._deadline = time.monotonic() + limits.notebook_seconds  # the stub's notebook time, as a kernel's
    session._probe_channel, session._probe_seen = ProbeChannel(), 0
    return session


def test_a_reply_past_the_bound_is_refused_and_counts_against_the_probes_own_budget():
    session = probe_with_reply("x" * (3 * 2**19), replace(Limits(), probe_bytes=2 * 2**20))  # 1.5 MiB replies
    assert asyncio.run(session._probe("Probe.install()")) == {"probe_error": "the probe's answer was too large"}
    with pytest.raises(LimitReached) as limit:
        asyncio.run(session._probe("Probe.snapshot('model')"))  # 3 MiB of replies: past the 2 MiB budget
    assert (limit.value.status, limit.value.detail) == ("output_limit", "probe")
    assert session._client.output_seen == 0  # the notebook's own output budget is untouched


def test_a_huge_reply_ends_the_notebook_past_the_probes_budget():
    with pytest.raises(LimitReached) as limit:
        asyncio.run(probe_with_reply("x" * (300 * 2**20))._probe("Probe.install()"))
    assert (limit.value.status, limit.value.detail) == ("output_limit", "probe")


def test_what_the_probe_reports_is_bounded():
    assert len(kernel_probe._text("x" * 10**7)) == kernel_probe.TEXT_CHARS
    assert kernel_probe._shape(itertools.count()) is None  # endless
    assert kernel_probe._shape([1] * 9) is None and kernel_probe._shape((None, 5, 2**70)) is None
    assert kernel_probe._shape((None, None, 50)) == [None, None, 50]
    assert json.loads(kernel_probe._encode({"a": [1, None, True, "é"], "b": object(), 3: "x"})) == {
        "a": [1, None, True, "é"], "b": None}


def test_a_stand_in_for_a_missing_library_serves_the_notebooks_imports_never_a_librarys():
    """Keras tries `import sklearn` and does without it: a stand-in there would break Keras itself."""
    import sys
    asked = {}
    for who, filename in (("library", f"{sys.prefix}/lib/site-packages/keras/src/x.py"),
                          ("notebook", "/tmp/ipykernel_7/1234.py")):
        namespace = {"find": kernel_probe._StandIns.find_spec}
        exec(compile("spec = find('sklearn')", filename, "exec"), namespace)
        asked[who] = namespace["spec"] is not None
    assert asked == {"library": False, "notebook": True}
