"""Real-world student notebooks for the LSTM exercise, each with the verdict the decided policies give.

The corpus imitates what students and public code actually write: the course template filled in
(Chinese and English, with and without the instruction comment, correctly and with each classic
slip), fresh notebooks without our metadata (one cell per step, or one cell with everything),
whole models in one cell, Keras 1/2/3 spellings through `tensorflow.keras` and standalone `keras`,
functional and subclassed models, wrappers, regularising layers, renamed models, models built in
functions, first cells importing data-science libraries, and failing data cells.

Every expectation below follows from these DECIDED POLICIES (issues 11 and 18), never from what the
grader happens to output:

- A step passes when its layers are right, wherever the code sits (statements are mapped to
  steps, not cells): a correct whole model in one cell scores 100.
- A mistake costs only the step that made it: later steps whose own code is right pass (they are
  judged on top of correct earlier steps).
- Standalone `keras` code with Keras 2 keywords runs as Keras 2 and scores like the same code
  through tensorflow.keras. Code that only Keras 2 accepts (compat.v1 + disable_v2_behavior) also
  runs under Keras 2.
- A first cell importing pandas/sklearn/matplotlib/scipy costs nothing. A module the grading
  machine lacks is the machine's gap, not the student's error.
- A failing data cell (missing CSV, undefined X_train, fit on undefined data) costs nothing if the
  model steps are right.
- Q1 Dropout (and its kin), Activation layers, activation/dropout arguments, a Flatten that
  changes no shape, between the asked layers: accepted.
- Q2 No usable global `model`: the Keras model the notebook called summary() on is graded (else
  the only Keras model with layers among globals). No penalty.
- Q3 A model built inside a function or wrapper object: found the same way.
- Q4 Functional API and subclassed keras.Model: accepted, judged on the layers they hold; a
  functional layer wired to the wrong input fails its step (input-dimension check).
- Q4b Input dimension declared any way Keras accepts (input_dim, input_shape, batch_input_shape,
  Input, model.build((None, None, 1)), a subclassed model called on a batch or trained on data).
- Q5 stateful, fixed batch/time length, layer names: accepted.
- Q6 Code that runs in no supported Keras (Keras 1 `output_dim`, `keras.layers.recurrent`,
  Python 2 print, CuDNNLSTM on CPU) fails that step (only that step); the reason gives the modern
  spelling.
- Q7 A non-first layer that states an input dimension other than the one it receives fails that
  step.
- Q8 `RNN(LSTMCell(n))` is an LSTM layer of n units (RNN(GRUCell(n)) a GRU, RNN(SimpleRNNCell(n))
  a SimpleRNN: so not the LSTM a step asks for), with a note.
- Q9 Masking is a pass-through layer (Q1's list), in front of the asked layers too, with a note.
- Q12 A backend the machine lacks (KERAS_BACKEND=jax or torch by os.environ or %env,
  keras.config.set_backend) is the machine's gap: graded with the TensorFlow backend, with a
  note, no penalty.
- Wrappers: Bidirectional(LSTM(50, return_sequences=True)) in step 1 is NOT an LSTM(50) layer:
  step 1 fails (type check), later steps are judged on correct earlier steps.
  TimeDistributed(Dense(...)) where a Dense is asked likewise fails that step.
- A value that reads like the right one but is not (return_sequences='True', a size read as
  text from a configuration file) fails its check or its step, and the first sentence shows the
  difference: `'True'`, a string; for a size Keras refuses, the error and the `int(...)` to write.
- The first sentence names the line that made the mistake: `model = Sequential` without
  parentheses (not the `model.add` after it, which raised); `return_state=True` (the layer returns
  three tensors; not "the model has no input dimension").

Cases of Q6 also give, per failed step, the modern spelling that must appear somewhere in the
step's reason (`units=` for `output_dim`, `print(` for Python 2's print, `layers import LSTM` for
`keras.layers.recurrent`), in either language; so do other cases whose reason must say what to
write (`int(` for a size read as text, `return_state` for a layer Keras 2 refuses for it).

A case whose grading takes a policy on its word (Q8, Q9, Q12) gives a short substring of the note
that must say so (`LSTMCell`, `Masking`, `jax`).

Each case gives, for every step it expects to fail, a short language-neutral substring that must
appear in the first sentence of that step's `reason` (up to the first ". " or "。") whatever the
report's language: an exception name, a Keras keyword or class, `<None>`, or a number of the
mistake (the wrong value written, or the input dimension a layer should have): labels such as
"units" are words of one language ("单元数" in Chinese).

- Q10 Step 5 passes when the real summary() of the model ran and its text reached the output by
  any route (print_fn into a file or a list that is then printed); a count_params() loop does not.
- Q11 Each step is judged on its own code: a summary cell run before the Dense cell passes; a name
  used in a cell before the cell that defines it fails there.
- A step's layers are the ones its code creates and configures, wherever they are added (created
  in steps 1-4, `Sequential([...])` of them in step 5).
- A model that never gets an input dimension fails step 1 only: summary() raising "not yet been
  built" under Keras 2 is step 1's consequence, so step 5 is judged on correct earlier steps.

Left out as genuinely ambiguous under the policies: a trailing Activation or Dropout after
Dense(10) (Q1 speaks of layers *between* the asked layers); a Python 2 `print` in the same cell as
the layer code (the whole cell is a SyntaxError, so which steps "made" the mistake is unclear).
Kept, with the verdict the policies give: a functional model whose LSTM(100) is wired to the
input leaves the correct LSTM(50) dangling outside the model; only step 2 made a mistake, so only
step 2 fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = {lang: ROOT / "exercises" / "lstm_network" / f"lstm_network.{lang}.ipynb" for lang in ("zh", "en")}
PLACEHOLDER = "<None>"
ALL = (True, True, True, True, True)


@dataclass(frozen=True)
class Case:
    name: str
    style: str
    lang: str  # "zh" or "en": the language of the notebook's own text, so of its report under --lang auto
    notebook: Callable[[], NotebookNode]
    expected: tuple[bool, bool, bool, bool, bool]  # step passed, steps 1-5
    first: dict[int, str] = field(default_factory=dict)  # failed step -> substring of its reason's first sentence
    modern: dict[int, str] = field(default_factory=dict)  # Q6: failed step -> the modern spelling, anywhere in its reason
    note: str = ""  # a substring of one of the result's notes: what a policy took on its word (Q8, Q9, Q12)

    def __post_init__(self) -> None:
        failed = {number for number, passed in enumerate(self.expected, start=1) if not passed}
        assert set(self.first) == failed, f"{self.name}: `first` must name exactly the failed steps {failed}"
        assert set(self.modern) <= failed, f"{self.name}: `modern` is for failed steps only"
        assert self.lang in ("zh", "en")


# ---------------------------------------------------------------------------------------------
# Building notebooks


def _read_template(lang: str) -> NotebookNode:
    return nbformat.read(TEMPLATES[lang], as_version=4)


def _step_of(cell) -> int | None:
    return (cell.get("metadata", {}).get("lstm_grader") or {}).get("step")


def given_code(lang: str = "zh") -> str:
    """The code the template gives in the step-1 cell (imports and `model=Sequential()`), without
    the instruction comment and the `<None>` line."""
    cell = next(cell for cell in _read_template(lang).cells if _step_of(cell) == 1)
    lines = cell.source.splitlines()[1:]
    return "\n".join(line for line in lines if line.strip() != PLACEHOLDER) + "\n"


def template(lang: str, answers: dict[int, str | tuple[str, ...]], *, comment: bool = True,
             after: tuple[str, ...] = ()) -> NotebookNode:
    """The shipped template with answer cells filled in, by step number.

    An answer that is a tuple fills the cell's `<None>` placeholders in order (as a student types
    into the blanks); a string replaces the cell's code (below the instruction comment) entirely.
    `comment` keeps the template's instruction comment (which itself contains `<None>`) on top of
    each answered cell, as most students leave it. `after` appends unmarked code cells at the end.
    """
    nb = _read_template(lang)
    for cell in nb.cells:
        step = _step_of(cell)
        if step not in answers:
            continue
        instruction, _, code = cell.source.partition("\n")
        answer = answers[step]
        if isinstance(answer, tuple):
            for blank in answer:
                assert PLACEHOLDER in code, f"step {step}: more answers than blanks"
                code = code.replace(PLACEHOLDER, blank, 1)
        else:
            code = answer
        cell.source = (instruction + "\n" if comment else "") + code.strip("\n")
    for source in after:
        nb.cells.append(new_code_cell(source))
    return nb


def fresh(*cells: str) -> NotebookNode:
    """A notebook the student wrote from scratch, without our metadata. A cell whose text starts
    with "#md " is a markdown cell (the marker is dropped); every other cell is code."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source in cells:
        source = source.strip("\n")
        if source.startswith("#md "):
            nb.cells.append(new_markdown_cell(source[len("#md "):]))
        else:
            nb.cells.append(new_code_cell(source))
    return nb


def comment_only(lang: str) -> str:
    """What a step cell holds when the student answered it elsewhere: only a comment."""
    return "# 上面第一步已经完成了整个模型" if lang == "zh" else "# done above in step 1"


# ---------------------------------------------------------------------------------------------
# Answers in the course's own words

K2_STEP1 = "model.add(LSTM(input_dim=1, units=50, return_sequences=True))"  # the course's answer
K2_STEP2 = "LSTM(input_dim=50, units=100, return_sequences=True)"
K2_STEP3 = "model.add(LSTM(300, return_sequences=False))"
K3_STEP1 = "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(50, return_sequences=True))"
FILLED = {1: (K2_STEP1,), 2: (K2_STEP2,), 3: (K2_STEP3,), 4: ("Dense(100)", "Dense(10)"), 5: ("summary",)}


def filled(lang: str, comment: bool = True, **changes: str | tuple[str, ...]) -> Callable[[], NotebookNode]:
    """The template filled with the course's answer, with the steps named `s1`..`s5` changed."""
    answers = dict(FILLED)
    for key, value in changes.items():
        answers[int(key[1:])] = value
    return partial(template, lang, answers, comment=comment)


STACK_CORRECT_K3 = """model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))"""

TF_IMPORTS = """import numpy as np
import tensorflow as tf
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense"""

KERAS_IMPORTS = """import numpy as np
from keras.models import Sequential
from keras.layers import LSTM, Dense"""


# Cells of a fresh notebook written the course's way, for the cases that change the others.
STEP2_CELL = "model.add(LSTM(input_dim=50, units=100, return_sequences=True))"
STEP3_CELL = "model.add(LSTM(300))"
DENSE_CELL = "model.add(Dense(100))\nmodel.add(Dense(10))"


CASES: list[Case] = [
    # --- the course template, filled in --------------------------------------------------------
    Case("template_zh_correct_keras2", "template", "zh", filled("zh", comment=False), ALL),
    Case("template_en_correct_keras3_input", "template", "en",
         filled("en", comment=False, s1=(K3_STEP1,), s2=("LSTM(100, return_sequences=True)",),
                s3=("model.add(LSTM(300))",)), ALL),
    Case("template_zh_comment_left_correct", "template", "zh", filled("zh"), ALL),
    Case("template_en_comment_left_correct", "template", "en",
         filled("en", s1=("model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))",),
                s2=("LSTM(100, return_sequences=True)",), s3=("model.add(LSTM(300))",)), ALL),
    Case("template_zh_comment_left_missing_return_sequences", "template slip", "zh",
         filled("zh", s1=("model.add(LSTM(input_dim=1, units=50))",)),
         (False, True, True, True, True), {1: "return_sequences"}),
    Case("template_en_comment_left_units_64", "template slip", "en",
         filled("en", s1=("model.add(LSTM(input_dim=1, units=64, return_sequences=True))",)),
         (False, True, True, True, True), {1: "64"}),
    Case("template_zh_comment_left_step2_no_return_sequences", "template slip", "zh",
         filled("zh", s2=("LSTM(input_dim=50, units=100)",)),
         (True, False, True, True, True), {2: "return_sequences"}),
    Case("template_en_step3_return_sequences_true", "template slip", "en",
         filled("en", comment=False, s3=("model.add(LSTM(300, return_sequences=True))",)),
         (True, True, False, True, True), {3: "return_sequences"}),
    Case("template_zh_comment_left_dense_20", "template slip", "zh",
         filled("zh", s4=("Dense(100)", "Dense(20)")),
         (True, True, True, False, True), {4: "20"}),
    Case("template_en_comment_left_summary_without_parentheses", "template slip", "en",
         filled("en", s5="model.summary"),
         (True, True, True, True, False), {5: "summary"}),
    Case("template_zh_comment_left_syntax_error_step2", "template slip", "zh",
         filled("zh", s2="model.add(LSTM(input_dim=50, units=100, return_sequences=True)"),
         (True, False, True, True, True), {2: "SyntaxError"}),
    Case("template_en_step1_left_none", "template unfilled", "en",
         filled("en", s1=(PLACEHOLDER,)),
         (False, True, True, True, True), {1: PLACEHOLDER}),
    Case("template_zh_step4_left_none", "template unfilled", "zh",
         filled("zh", s4=(PLACEHOLDER, PLACEHOLDER)),
         (True, True, True, False, True), {4: PLACEHOLDER}),
    Case("template_zh_comment_left_keras1_output_dim", "template keras1", "zh",
         filled("zh", s1=("model.add(LSTM(input_dim=1, output_dim=50, return_sequences=True))",)),
         (False, True, True, True, True), {1: "TypeError"}, {1: "units="}),
    Case("template_en_comment_left_x_train_input_shape", "template data", "en",
         filled("en", s1=("model.add(LSTM(units=50, return_sequences=True, input_shape=(X_train.shape[1], 1)))",)),
         (False, True, True, True, True), {1: "NameError"}),
    Case("template_zh_comment_left_lowercase_lstm", "template slip", "zh",
         filled("zh", s2=("lstm(100, return_sequences=True)",)),
         (True, False, True, True, True), {2: "NameError"}),
    Case("template_zh_step2_input_dim_copied_from_step1", "template slip Q7", "zh",
         filled("zh", s2=("LSTM(input_dim=1, units=100, return_sequences=True)",)),
         (True, False, True, True, True), {2: "50"}),
    Case("template_en_dense_activations", "template Q1", "en",
         filled("en", s4=("Dense(100, activation='relu')", "Dense(10, activation='softmax')")), ALL),
    Case("template_zh_comment_left_dropout_between", "template Q1", "zh",
         filled("zh", s1=(K2_STEP1 + "\nmodel.add(Dropout(0.2))",),
                s3=(K2_STEP3 + "\nmodel.add(Dropout(0.2))",)), ALL),
    Case("template_zh_whole_model_list_form_in_step1", "template whole model", "zh",
         partial(template, "zh", {
             1: given_code("zh") + """model = Sequential([
    LSTM(50, return_sequences=True, input_shape=(None, 1)),
    LSTM(100, return_sequences=True),
    LSTM(300),
    Dense(100),
    Dense(10),
])
model.summary()""",
             2: comment_only("zh"), 3: comment_only("zh"), 4: comment_only("zh"), 5: comment_only("zh")}), ALL),
    Case("template_en_whole_model_five_adds_in_step1", "template whole model", "en",
         partial(template, "en", {
             1: given_code("en") + "model.add(LSTM(input_dim=1, units=50, return_sequences=True))\n"
                "model.add(LSTM(100, return_sequences=True))\nmodel.add(LSTM(300))\n"
                "model.add(Dense(100))\nmodel.add(Dense(10))\nmodel.summary()",
             2: "", 3: "", 4: "", 5: ""}), ALL),
    Case("template_en_whole_model_in_step1_summary_in_step5", "template whole model", "en",
         partial(template, "en", {1: given_code("en") + STACK_CORRECT_K3,
                                  2: comment_only("en"), 3: comment_only("en"), 4: comment_only("en"),
                                  5: ("summary",)}), ALL),
    Case("template_zh_whole_model_in_step1_step3_return_sequences", "template whole model", "zh",
         partial(template, "zh", {
             1: given_code("zh") + STACK_CORRECT_K3.replace("LSTM(300)", "LSTM(300, return_sequences=True)")
                + "\nmodel.summary()",
             2: comment_only("zh"), 3: comment_only("zh"), 4: comment_only("zh"), 5: comment_only("zh")}),
         (True, True, False, True, True), {3: "return_sequences"}),
    Case("template_zh_regressor_beside_empty_model", "renamed model Q2", "zh",
         partial(template, "zh", {
             1: given_code("zh") + "regressor = Sequential()\n"
                "regressor.add(LSTM(units=50, return_sequences=True, input_shape=(None, 1)))",
             2: "regressor.add(LSTM(units=100, return_sequences=True))",
             3: "regressor.add(LSTM(units=300))",
             4: "regressor.add(Dense(units=100))\nregressor.add(Dense(units=10))",
             5: "regressor.summary()"}), ALL),
    Case("template_zh_standalone_keras_input_dim", "template keras2 standalone", "zh",
         partial(template, "zh", {
             1: "import numpy as np\nimport keras\nfrom keras.models import Sequential\n"
                "from keras.layers import Dense, Activation, Dropout, LSTM\nmodel = Sequential()\n" + K2_STEP1,
             2: ("model.add(<None>)".replace(PLACEHOLDER, K2_STEP2)), 3: K2_STEP3,
             4: "model.add(Dense(100))\nmodel.add(Dense(10))", 5: "model.summary()"}), ALL),
    Case("template_en_pandas_matplotlib_in_step1", "template libraries", "en",
         partial(template, "en", {
             1: "import pandas as pd\nimport matplotlib.pyplot as plt\n" + given_code("en") + K2_STEP1,
             2: ("model.add(LSTM(100, return_sequences=True))"), 3: "model.add(LSTM(300))",
             4: "model.add(Dense(100))\nmodel.add(Dense(10))", 5: "model.summary()"}), ALL),

    # --- fresh notebooks, Keras 2 and 3 spellings ------------------------------------------------
    Case("fresh_en_cell_per_step_input_shape_none", "fresh tf.keras", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\nmodel.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))",
        "model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300))",
        "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"), ALL),
    Case("fresh_zh_one_cell_everything", "fresh one cell", "zh", partial(fresh, """
#md ## 搭建LSTM网络
""", """
import tensorflow as tf
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense

model = Sequential()
# 第一层LSTM：输入维度1，输出维度50，返回全部序列
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
# 第二层LSTM
model.add(LSTM(100, return_sequences=True))
# 最后一层LSTM，只返回最后的输出
model.add(LSTM(300, return_sequences=False))
# 两个全连接层
model.add(Dense(100))
model.add(Dense(10))
model.summary()
"""), ALL),
    Case("fresh_en_standalone_keras_input_dim", "fresh keras2 standalone", "en", partial(
        fresh, "import keras\nfrom keras.models import Sequential\nfrom keras.layers import LSTM, Dense, Activation",
        """model = Sequential()
model.add(LSTM(input_dim=1, units=50, return_sequences=True))
model.add(LSTM(input_dim=50, units=100, return_sequences=True))
model.add(LSTM(300, return_sequences=False))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"), ALL),
    Case("fresh_zh_import_keras_dotted_input_dim", "fresh keras2 standalone", "zh", partial(
        fresh, "#md ### 用 keras 搭建三层LSTM", """import keras

model = keras.models.Sequential()
model.add(keras.layers.LSTM(50, input_dim=1, return_sequences=True))
model.add(keras.layers.LSTM(100, return_sequences=True))
model.add(keras.layers.LSTM(300))
model.add(keras.layers.Dense(100))
model.add(keras.layers.Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_standalone_keras_batch_input_shape", "fresh keras2 standalone", "en", partial(
        fresh, KERAS_IMPORTS, """model = Sequential()
model.add(LSTM(50, batch_input_shape=(None, None, 1), return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_input_shape_timesteps", "fresh Q5", "en", partial(
        fresh, TF_IMPORTS, "timesteps = 60\nn_features = 1", """model = Sequential()
model.add(LSTM(units=50, return_sequences=True, input_shape=(timesteps, n_features)))
model.add(LSTM(units=100, return_sequences=True))
model.add(LSTM(units=300))
model.add(Dense(units=100))
model.add(Dense(units=10))""", "model.summary()"), ALL),
    Case("fresh_en_leading_input_layer", "fresh Q4b", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Input", """model = Sequential()
model.add(Input(shape=(None, 1)))
model.add(LSTM(50, return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_model_build_after_layers", "fresh Q4b", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential()
model.add(LSTM(50, return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))
model.build((None, None, 1))""", "print(model.summary())"), ALL),
    Case("fresh_en_keras3_list_form", "fresh keras3", "en", partial(
        fresh, "import keras\nfrom keras import layers", """model = keras.Sequential([
    keras.Input(shape=(None, 1)),
    layers.LSTM(50, return_sequences=True),
    layers.LSTM(100, return_sequences=True),
    layers.LSTM(300),
    layers.Dense(100),
    layers.Dense(10),
])
model.summary()"""), ALL),
    Case("fresh_en_compat_v1_disable_v2_behavior", "fresh keras2 only", "en", partial(
        fresh, """import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense""", "model = Sequential()\n" + STACK_CORRECT_K3, "model.summary()"), ALL),
    # The course's Keras 2 answer in TensorFlow 1 style: shapes hold `Dimension` objects there.
    Case("fresh_en_compat_v1_course_answer", "fresh keras2 only", "en", partial(
        fresh, """import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense""", "model = Sequential()\n" + K2_STEP1, "model.add(" + K2_STEP2 + ")",
        K2_STEP3, "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"), ALL),

    # --- Keras 1, CuDNNLSTM, Python 2 (Q6) -------------------------------------------------------
    Case("fresh_zh_keras1_recurrent_import", "fresh keras1", "zh", partial(
        fresh, "#md ## 第一步：导入", """from keras.models import Sequential
from keras.layers import Dense
from keras.layers.recurrent import LSTM""", """model = Sequential()
model.add(LSTM(input_dim=1, units=50, return_sequences=True))""",
        "model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300, return_sequences=False))",
        "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"),
        (False, True, True, True, True), {1: "recurrent"}, {1: "layers import LSTM"}),
    Case("fresh_en_keras1_output_dim", "fresh keras1", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential()
model.add(LSTM(input_dim=1, output_dim=50, return_sequences=True))""",
        "model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300, return_sequences=False))",
        "model.add(Dense(output_dim=100))\nmodel.add(Dense(output_dim=10))", "model.summary()"),
        (False, True, True, False, True), {1: "TypeError", 4: "TypeError"}, {1: "units=", 4: "units="}),
    Case("fresh_en_cudnnlstm", "fresh cudnn", "en", partial(
        fresh, "import tensorflow as tf\nfrom tensorflow.keras.models import Sequential\n"
               "from tensorflow.keras.layers import Dense, CuDNNLSTM", """model = Sequential()
model.add(CuDNNLSTM(50, input_shape=(None, 1), return_sequences=True))
model.add(CuDNNLSTM(100, return_sequences=True))
model.add(CuDNNLSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        (False, False, False, True, True), {1: "CuDNNLSTM", 2: "CuDNNLSTM", 3: "CuDNNLSTM"}),
    Case("fresh_en_python2_print_summary", "fresh python2", "en", partial(
        fresh, KERAS_IMPORTS, """model = Sequential()
model.add(LSTM(input_dim=1, units=50, return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "print model.summary()"),
        (True, True, True, True, False), {5: "SyntaxError"}, {5: "print("}),

    # --- libraries and data cells ----------------------------------------------------------------
    Case("fresh_zh_pandas_sklearn_matplotlib_first_cell", "fresh libraries", "zh", partial(
        fresh, """# 导入需要的库
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from sklearn.preprocessing import MinMaxScaler
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense, Dropout""", "model = Sequential()\n" + STACK_CORRECT_K3,
        "model.summary()"), ALL),
    Case("fresh_en_scipy_first_cell_standalone_keras", "fresh libraries", "en", partial(
        fresh, """import numpy as np
from scipy import stats
import keras
from keras.models import Sequential
from keras.layers import LSTM, Dense""", """model = Sequential()
model.add(LSTM(units=50, input_dim=1, return_sequences=True))
model.add(LSTM(units=100, return_sequences=True))
model.add(LSTM(units=300))
model.add(Dense(units=100))
model.add(Dense(units=10))
model.summary()"""), ALL),
    Case("fresh_en_read_csv_missing", "fresh data cell", "en", partial(
        fresh, "import numpy as np\nimport pandas as pd\n" + TF_IMPORTS,
        "dataset_train = pd.read_csv('Google_Stock_Price_Train.csv')\ntraining_set = dataset_train.iloc[:, 1:2].values",
        "model = Sequential()\n" + STACK_CORRECT_K3.replace("(None, 1)", "(60, 1)"), "model.summary()"), ALL),
    Case("fresh_zh_x_train_undefined_data_cell", "fresh data cell", "zh", partial(
        fresh, TF_IMPORTS, "# 把数据变成 LSTM 需要的三维形状\nX_train = np.reshape(X_train, (X_train.shape[0], X_train.shape[1], 1))",
        "model = Sequential()\n" + STACK_CORRECT_K3, "model.summary()"), ALL),
    Case("fresh_en_fit_undefined_after_summary", "fresh data cell", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\n" + STACK_CORRECT_K3, "model.summary()",
        "model.compile(optimizer='adam', loss='mean_squared_error')\n"
        "model.fit(X_train, y_train, epochs=100, batch_size=32)"), ALL),

    # --- functional and subclassed models (Q4) ---------------------------------------------------
    Case("fresh_en_functional", "functional", "en", partial(
        fresh, "from tensorflow.keras.layers import Input, LSTM, Dense\nfrom tensorflow.keras.models import Model",
        """inputs = Input(shape=(None, 1))
x = LSTM(50, return_sequences=True)(inputs)
x = LSTM(100, return_sequences=True)(x)
x = LSTM(300)(x)
x = Dense(100)(x)
outputs = Dense(10)(x)
model = Model(inputs=inputs, outputs=outputs)
model.summary()"""), ALL),
    Case("fresh_en_functional_lstm100_wired_to_input", "functional", "en", partial(
        fresh, "from tensorflow.keras.layers import Input, LSTM, Dense\nfrom tensorflow.keras.models import Model",
        """inputs = Input(shape=(None, 1))
lstm_1 = LSTM(50, return_sequences=True)(inputs)
lstm_2 = LSTM(100, return_sequences=True)(inputs)
lstm_3 = LSTM(300)(lstm_2)
dense_1 = Dense(100)(lstm_3)
outputs = Dense(10)(dense_1)
model = Model(inputs, outputs)
model.summary()"""),
        # LSTM(50) is built but wired to nothing the model holds: the final model has no step-1 layer.
        (False, False, True, True, True), {1: "LSTM(50", 2: "50"}),
    Case("fresh_en_subclassed_model", "subclassed", "en", partial(
        fresh, "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers",
        """class StackedLSTM(keras.Model):
    def __init__(self):
        super().__init__()
        self.lstm1 = layers.LSTM(50, return_sequences=True)
        self.lstm2 = layers.LSTM(100, return_sequences=True)
        self.lstm3 = layers.LSTM(300)
        self.dense1 = layers.Dense(100)
        self.dense2 = layers.Dense(10)

    def call(self, inputs):
        x = self.lstm1(inputs)
        x = self.lstm2(x)
        x = self.lstm3(x)
        x = self.dense1(x)
        return self.dense2(x)""", "model = StackedLSTM()\nmodel.build((None, None, 1))\nmodel.summary()"), ALL),
    # Built by calling it on a batch (Q4b): its input dimension is the one its first layer was built on.
    Case("fresh_en_subclassed_model_called_on_a_batch", "subclassed Q4b", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow import keras", """class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.l1 = LSTM(50, return_sequences=True)
        self.l2 = LSTM(100, return_sequences=True)
        self.l3 = LSTM(300)
        self.d1 = Dense(100)
        self.d2 = Dense(10)
    def call(self, x):
        return self.d2(self.d1(self.l3(self.l2(self.l1(x)))))

model = Net()
model(np.zeros((2, 5, 1)))
model.summary()"""), ALL),
    Case("fresh_zh_subclassed_model_trained_before_summary", "subclassed Q4b", "zh", partial(
        fresh, "# 子类模型\nimport numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers",
        """class StockModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.lstm_layers = [layers.LSTM(50, return_sequences=True), layers.LSTM(100, return_sequences=True),
                            layers.LSTM(300)]
        self.head = [layers.Dense(100), layers.Dense(10)]

    def call(self, x):
        for layer in self.lstm_layers + self.head:
            x = layer(x)
        return x""", """model = StockModel()
model.compile(loss='mse', optimizer='adam')
model.fit(np.zeros((4, 7, 1)), np.zeros((4, 10)), epochs=1, verbose=0)""", "model.summary()"), ALL),

    # --- wrappers --------------------------------------------------------------------------------
    Case("fresh_en_bidirectional_step1", "wrapper", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Bidirectional", """model = Sequential()
model.add(Bidirectional(LSTM(50, return_sequences=True), input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""),
        (False, True, True, True, True), {1: "Bidirectional"}),
    Case("fresh_zh_bidirectional_all_lstms", "wrapper", "zh", partial(
        fresh, "# 双向LSTM\n" + TF_IMPORTS + "\nfrom tensorflow.keras.layers import Bidirectional, Input",
        "model = Sequential()\nmodel.add(Input(shape=(None, 1)))\n"
        "model.add(Bidirectional(LSTM(50, return_sequences=True)))",
        "model.add(Bidirectional(LSTM(100, return_sequences=True)))", "model.add(Bidirectional(LSTM(300)))",
        "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"),
        (False, False, False, True, True), {1: "Bidirectional", 2: "Bidirectional", 3: "Bidirectional"}),
    Case("fresh_en_timedistributed_seq2seq", "wrapper", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import TimeDistributed", """model = Sequential()
model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300, return_sequences=True))
model.add(TimeDistributed(Dense(100)))
model.add(TimeDistributed(Dense(10)))
model.summary()"""),
        (True, True, False, False, True), {3: "return_sequences", 4: "TimeDistributed"}),
    Case("fresh_en_timedistributed_last_dense", "wrapper", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import TimeDistributed",
        "model = Sequential()\nmodel.add(LSTM(50, input_shape=(None, 1), return_sequences=True))\n"
        "model.add(LSTM(100, return_sequences=True))\nmodel.add(LSTM(300))",
        "model.add(Dense(100))\nmodel.add(TimeDistributed(Dense(10)))", "model.summary()"),
        (True, True, True, False, True), {4: "TimeDistributed"}),

    # --- regularising layers and settings (Q1, Q5) -----------------------------------------------
    Case("fresh_en_dropout_after_each_layer", "Q1", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Dropout", """model = Sequential()
model.add(LSTM(units=50, return_sequences=True, input_shape=(None, 1)))
model.add(Dropout(0.2))
model.add(LSTM(units=100, return_sequences=True))
model.add(Dropout(0.2))
model.add(LSTM(units=300))
model.add(Dropout(0.2))
model.add(Dense(units=100))
model.add(Dense(units=10))""", "model.summary()"), ALL),
    Case("fresh_en_activation_layers_and_arguments", "Q1", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Activation", """model = Sequential()
model.add(LSTM(50, activation='tanh', return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(100, activation='tanh', return_sequences=True))
model.add(LSTM(300, activation='tanh'))
model.add(Dense(100))
model.add(Activation('relu'))
model.add(Dense(10, activation='softmax'))""", "model.summary()"), ALL),
    Case("fresh_zh_dropout_arguments", "Q1", "zh", partial(
        fresh, TF_IMPORTS, """# 每层LSTM都加了dropout，防止过拟合
model = Sequential()
model.add(LSTM(50, return_sequences=True, dropout=0.2, recurrent_dropout=0.2, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True, dropout=0.2, recurrent_dropout=0.2))
model.add(LSTM(300, dropout=0.2))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_flatten_after_last_lstm", "Q1", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Flatten", """model = Sequential()
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Flatten())
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_stateful_batch_input_shape", "Q5", "en", partial(
        fresh, KERAS_IMPORTS, "batch_size = 32\nlook_back = 60", """model = Sequential()
model.add(LSTM(50, batch_input_shape=(batch_size, look_back, 1), stateful=True, return_sequences=True))
model.add(LSTM(100, stateful=True, return_sequences=True))
model.add(LSTM(300, stateful=True))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), ALL),
    Case("fresh_en_named_layers", "Q5", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential(name='stacked_lstm')
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1), name='lstm_in'))
model.add(LSTM(100, return_sequences=True, name='lstm_mid'))
model.add(LSTM(300, name='lstm_out'))
model.add(Dense(100, name='fc1'))
model.add(Dense(10, name='fc2'))
model.summary()"""), ALL),

    # --- a model under another name, in a function, in an object (Q2, Q3) ------------------------
    Case("fresh_en_regressor_no_model", "renamed model Q2", "en", partial(
        fresh, "import numpy as np\nimport pandas as pd\n" + TF_IMPORTS + "\nfrom tensorflow.keras.layers import Dropout",
        """regressor = Sequential()
regressor.add(LSTM(units = 50, return_sequences = True, input_shape = (60, 1)))
regressor.add(Dropout(0.2))
regressor.add(LSTM(units = 100, return_sequences = True))
regressor.add(Dropout(0.2))
regressor.add(LSTM(units = 300))
regressor.add(Dropout(0.2))
regressor.add(Dense(units = 100))
regressor.add(Dense(units = 10))""", "regressor.summary()",
        "regressor.compile(optimizer = 'adam', loss = 'mean_squared_error')\n"
        "regressor.fit(X_train, y_train, epochs = 100, batch_size = 32)"), ALL),
    Case("fresh_en_build_model_function", "function Q3", "en", partial(
        fresh, KERAS_IMPORTS, """def build_model():
    m = Sequential()
    m.add(LSTM(input_dim=1, units=50, return_sequences=True))
    m.add(LSTM(100, return_sequences=True))
    m.add(LSTM(300, return_sequences=False))
    m.add(Dense(100))
    m.add(Dense(10))
    return m""", "m = build_model()\nm.summary()"), ALL),
    Case("fresh_zh_wrapper_object", "object Q3", "zh", partial(
        fresh, TF_IMPORTS, """class LSTMForecaster:
    \"\"\"三层LSTM预测模型\"\"\"

    def __init__(self, timesteps=None):
        self.model = self._build(timesteps)

    def _build(self, timesteps):
        net = Sequential()
        net.add(LSTM(50, return_sequences=True, input_shape=(timesteps, 1)))
        net.add(LSTM(100, return_sequences=True))
        net.add(LSTM(300))
        net.add(Dense(100))
        net.add(Dense(10))
        return net""", "forecaster = LSTMForecaster()\nforecaster.model.summary()"), ALL),

    # --- a non-first layer stating a wrong input dimension (Q7), and units slips ----------------
    Case("fresh_en_wrong_input_dim_30", "Q7", "en", partial(
        fresh, KERAS_IMPORTS, """model = Sequential()
model.add(LSTM(50, input_dim=1, return_sequences=True))
model.add(LSTM(100, input_dim=30, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""),
        (True, False, True, True, True), {2: "30"}),
    Case("fresh_en_q7_course_way_input_dim_50_on_step3", "Q7", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\n" + K2_STEP1,
        "model.add(LSTM(input_dim=50, units=100, return_sequences=True))",
        # Copied from step 2: the layer receives 100 features (tf-keras keeps the statement and ignores it).
        "model.add(LSTM(300, input_dim=50))", "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"),
        (True, True, False, True, True), {3: "50"}),
    Case("template_zh_step3_input_dim_50", "template slip Q7", "zh",
         filled("zh", s3=("model.add(LSTM(300, input_dim=50))",)),
         (True, True, False, True, True), {3: "50"}),
    Case("fresh_en_one_cell_list_form_units_128", "fresh one cell", "en", partial(
        fresh, TF_IMPORTS + """

model = Sequential([
    LSTM(50, return_sequences=True, input_shape=(None, 1)),
    LSTM(128, return_sequences=True),
    LSTM(300),
    Dense(100),
    Dense(10),
])
model.summary()"""),
        (True, False, True, True, True), {2: "128"}),

    # --- values that read like the right ones: a string where a bool or a size is expected -------
    Case("fresh_en_return_sequences_as_a_string", "string value", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential()
model.add(LSTM(50, return_sequences='True', input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        # The first failed check shows the difference: 'True', a string (Keras takes any truthy value).
        (False, True, True, True, True), {1: "'True'"}),
    Case("fresh_zh_return_sequences_false_as_a_string", "string value", "zh", partial(
        fresh, "# 搭建三层LSTM\n" + TF_IMPORTS, """model = Sequential()
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300, return_sequences='False'))  # 'False' is a non-empty string: Keras returns sequences
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        (True, True, False, True, True), {3: "'False'"}),
    Case("fresh_en_units_read_as_text_from_a_config", "string value", "en", partial(
        fresh, TF_IMPORTS + "\nimport configparser", """config = configparser.ConfigParser()
config.read_string('''
[network]
first = 50
second = 100
''')
net = config['network']""", """model = Sequential()
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(net['second'], return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        # '100' is text in every Keras; the reason says to convert it.
        (True, False, True, True, True), {2: "TypeError"}, {2: "int("}),

    # --- a bare RNN of one cell (Q8), Masking (Q9), another backend (Q12) -------------------------
    Case("fresh_en_rnn_of_lstm_cells", "Q8", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import RNN, LSTMCell", """model = Sequential()
model.add(RNN(LSTMCell(50), return_sequences=True, input_shape=(None, 1)))
model.add(RNN(LSTMCell(100), return_sequences=True))
model.add(RNN(LSTMCell(300)))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"), ALL, note="LSTMCell"),
    Case("fresh_zh_rnn_lstm_cell_standalone_keras_input_dim", "Q8 keras2 standalone", "zh", partial(
        fresh, "# 用 RNN 和 LSTMCell 搭建\n" + KERAS_IMPORTS + "\nfrom keras.layers import RNN, LSTMCell",
        "model = Sequential()\nmodel.add(RNN(LSTMCell(50), input_dim=1, return_sequences=True))",
        "model.add(LSTM(100, return_sequences=True))", "model.add(RNN(LSTMCell(300)))",
        "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"), ALL, note="LSTMCell"),
    Case("fresh_en_rnn_of_a_gru_cell_where_lstm_is_asked", "Q8", "en", partial(
        fresh, "import keras\nfrom keras import layers", """model = keras.Sequential([
    keras.Input(shape=(None, 1)),
    layers.RNN(layers.GRUCell(50), return_sequences=True),
    layers.LSTM(100, return_sequences=True),
    layers.LSTM(300),
    layers.Dense(100),
    layers.Dense(10),
])
model.summary()"""),
        # RNN(GRUCell(50)) is a GRU layer: not the LSTM step 1 asks for.
        (False, True, True, True, True), {1: "GRU"}, note="GRUCell"),
    Case("fresh_en_masking_in_front", "Q9", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow.keras.layers import Masking", """model = Sequential()
model.add(Masking(mask_value=0.0, input_shape=(None, 1)))
model.add(LSTM(50, return_sequences=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"), ALL, note="Masking"),
    Case("template_zh_masking_then_input_dim", "Q9 template", "zh",
         filled("zh", s1=("from tensorflow.keras.layers import Masking\n"
                          "model.add(Masking(mask_value=-1., input_shape=(None, 1)))\n" + K2_STEP1,)), ALL,
         note="Masking"),
    Case("fresh_en_keras_backend_jax_in_os_environ", "Q12", "en", partial(
        fresh, """import os
os.environ["KERAS_BACKEND"] = "jax"
import keras
from keras import layers""", """model = keras.Sequential()
model.add(keras.Input(shape=(None, 1)))
model.add(layers.LSTM(50, return_sequences=True))
model.add(layers.LSTM(100, return_sequences=True))
model.add(layers.LSTM(300))
model.add(layers.Dense(100))
model.add(layers.Dense(10))""", "model.summary()"), ALL, note="jax"),
    Case("fresh_zh_env_magic_torch_backend", "Q12", "zh", partial(
        fresh, "# 使用 PyTorch 后端\n%env KERAS_BACKEND=torch\nimport torch\nimport keras\nfrom keras.layers import LSTM, Dense",
        """model = keras.Sequential([keras.Input(shape=(None, 1)), LSTM(50, return_sequences=True),
                          LSTM(100, return_sequences=True), LSTM(300), Dense(100), Dense(10)])
model.summary()"""), ALL, note="torch"),
    Case("fresh_en_set_backend_jax", "Q12", "en", partial(
        fresh, "import keras\nkeras.config.set_backend('jax')\nfrom keras.models import Sequential\n"
               "from keras.layers import Input, LSTM, Dense", "model = Sequential()\nmodel.add(Input(shape=(None, 1)))\n"
        + STACK_CORRECT_K3.replace(", input_shape=(None, 1)", ""), "model.summary()"), ALL, note="jax"),

    # --- first sentences that name the real mistake ----------------------------------------------
    Case("fresh_en_return_state_in_a_sequential", "first sentence", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential()
model.add(LSTM(50, return_sequences=True, return_state=True, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        # Keras 3 keeps the layer, which returns three tensors; the next add raises because of it.
        (False, True, True, True, True), {1: "return_state"}),
    Case("fresh_zh_return_state_keras2", "first sentence keras2", "zh", partial(
        fresh, "# 第一层返回状态\n" + KERAS_IMPORTS, """model = Sequential()
model.add(LSTM(input_dim=1, units=50, return_sequences=True, return_state=True))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        # Keras 2 refuses the layer itself; the reason says what to do.
        (False, True, True, True, True), {1: "ValueError"}, {1: "return_state"}),
    Case("fresh_en_sequential_without_parentheses", "first sentence", "en", partial(
        fresh, TF_IMPORTS, """model = Sequential
model.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))
model.add(LSTM(100, return_sequences=True))
model.add(LSTM(300))
model.add(Dense(100))
model.add(Dense(10))""", "model.summary()"),
        # The sentence names the line that made the mistake, not the next line, which raised.
        (False, True, True, True, True), {1: "model = Sequential"}),
    Case("fresh_zh_keras_sequential_without_parentheses_cell_per_step", "first sentence", "zh", partial(
        fresh, "# 导入\nimport keras\nfrom keras.layers import LSTM, Dense",
        "model = keras.Sequential\nmodel.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(50, return_sequences=True))",
        "model.add(LSTM(100, return_sequences=True))", "model.add(LSTM(300))",
        "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"),
        (False, True, True, True, True), {1: "model = keras.Sequential"}),
    # --- issue 18: shapes whose verdict was wrong, decided by the policies -----------------------
    # Layers created in steps 1-4 and collected, the model made from them in step 5: a step's layers
    # are the ones its code creates, wherever they are added.
    Case("template_zh_layers_named_then_sequential_of_them", "layers added later", "zh",
         filled("zh", comment=False, s1=given_code("zh") + "l1 = LSTM(input_dim=1, units=50, return_sequences=True)",
                s2="l2 = LSTM(input_dim=50, units=100, return_sequences=True)", s3="l3 = LSTM(300, return_sequences=False)",
                s4="d1 = Dense(100)\nd2 = Dense(10)", s5="model = Sequential([l1, l2, l3, d1, d2])\nmodel.summary()"), ALL),
    Case("fresh_en_layers_appended_to_a_list", "layers added later", "en", partial(
        fresh, TF_IMPORTS, "layers = [LSTM(50, input_shape=(None, 1), return_sequences=True)]",
        "layers.append(LSTM(100, return_sequences=True))", "layers.append(LSTM(300))",
        "layers += [Dense(100), Dense(10)]", "model = Sequential(layers)\nmodel.summary()"), ALL),
    # A step 1 that declares no input, the rest the course's way (input_dim=50 in step 2): under
    # Keras 2 summary() raises "not yet been built"; step 5 is judged on correct earlier steps.
    Case("fresh_en_no_input_declared_then_course_style", "no input", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\nmodel.add(LSTM(50, return_sequences=True))",
        STEP2_CELL, STEP3_CELL,
        DENSE_CELL, "model.summary()"),
        (False, True, True, True, True), {1: "1"}),
    # Keras 3 raises in step 1's own add() (stateful without a batch size): step 1's error.
    Case("template_en_stateful_without_batch_size", "keras3 add raised", "en",
         filled("en", comment=False, s1=("model.add(keras.Input(shape=(None, 1)))\n"
                                         "model.add(LSTM(50, return_sequences=True, stateful=True))",),
                s2=("LSTM(100, return_sequences=True)",), s3=(STEP3_CELL,)),
         (False, True, True, True, True), {1: "stateful"}),
    # Q10: the summary's text reaches the output through print_fn; a count_params() loop does not pass.
    Case("template_en_summary_through_a_file", "Q10", "en",
         filled("en", comment=False, s5="with open('summary.txt', 'w') as f:\n"
                "    model.summary(print_fn=lambda line, **kw: f.write(line + '\\n'))\n"
                "print(open('summary.txt').read())"), ALL),
    Case("template_zh_count_params_instead_of_summary", "Q10", "zh",
         filled("zh", comment=False, s5="for layer in model.layers:\n    print(layer.name, layer.count_params())"),
         (True, True, True, True, False), {5: "summary"}),
    # Q11: each step on its own code. Cells swapped: the summary cell run before the Dense cell passes;
    # a name used in a cell before the cell that defines it fails there.
    Case("fresh_en_summary_cell_before_dense_cell", "Q11", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\nmodel.add(LSTM(input_dim=1, units=50, return_sequences=True))",
        STEP2_CELL, STEP3_CELL,
        "model.summary()", DENSE_CELL), ALL),
    Case("fresh_zh_model_used_before_defined", "Q11", "zh", partial(
        fresh, TF_IMPORTS, "model.add(LSTM(input_dim=1, units=50, return_sequences=True))",
        "model = Sequential()\nmodel.add(LSTM(input_dim=50, units=100, return_sequences=True))", STEP3_CELL,
        DENSE_CELL, "model.summary()"),
        (False, True, True, True, True), {1: "NameError"}),
    # Code that cannot be split into steps is judged on its final model; a later step on correct
    # earlier steps (its shapes and parameters computed on the input the exercise gives it).
    Case("fresh_en_loop_over_units_step3_return_sequences", "whole model slip", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow import keras", """model = Sequential()
model.add(keras.Input(shape=(None, 1)))
for units, seq in [(50, True), (100, True), (300, True)]:
    model.add(LSTM(units, return_sequences=seq))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""), (True, True, False, True, True), {3: "return_sequences"}),
    Case("fresh_zh_build_model_step3_return_sequences", "whole model slip", "zh", partial(
        fresh, "# 搭建模型\n" + TF_IMPORTS, """def build_model():
    model = Sequential()
    model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))
    model.add(LSTM(100, return_sequences=True))
    model.add(LSTM(300, return_sequences=True))
    model.add(Dense(100))
    model.add(Dense(10))
    return model

model = build_model()
model.summary()"""), (True, True, False, True, True), {3: "return_sequences"}),
    Case("fresh_en_main_guard_step3_return_sequences", "whole model slip", "en", partial(
        fresh, TF_IMPORTS + """

if __name__ == '__main__':
    model = Sequential()
    model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))
    model.add(LSTM(100, return_sequences=True))
    model.add(LSTM(300, return_sequences=True))
    model.add(Dense(100))
    model.add(Dense(10))
    model.summary()"""), (True, True, False, True, True), {3: "return_sequences"}),
    # An extra layer costs the step whose stretch of the network it sits in: the step of the next
    # layer the exercise has (LSTM(200) before step 3's LSTM(300)), at the end the last one's
    # (Dense(1) after step 4's Dense(10)); the first sentence names it. In cells of their own,
    # the cell that adds it.
    Case("fresh_en_wrapper_object_extra_layers", "object extra layers", "en", partial(
        fresh, TF_IMPORTS, """class Forecaster:
    def __init__(self):
        self.model = Sequential()
        self.model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))
        self.model.add(LSTM(100, return_sequences=True))
        self.model.add(LSTM(200, return_sequences=True))
        self.model.add(LSTM(300))
        self.model.add(Dense(100))
        self.model.add(Dense(10))
        self.model.add(Dense(1))

f = Forecaster()
f.model.summary()"""), (True, True, False, False, True), {3: "LSTM(200", 4: "Dense(1)"}),
    Case("fresh_en_cell_per_step_extra_lstm_in_step2", "extra layer", "en", partial(
        fresh, TF_IMPORTS, "model = Sequential()\nmodel.add(LSTM(50, return_sequences=True, input_shape=(None, 1)))",
        "model.add(LSTM(100, return_sequences=True))\nmodel.add(LSTM(200, return_sequences=True))",
        "model.add(LSTM(300))", "model.add(Dense(100))\nmodel.add(Dense(10))", "model.summary()"),
        (True, False, True, True, True), {2: "LSTM(200"}),
    # A size written as a float (Dense(hidden / 3) = 100.0): Keras 3 refuses it, the course's Keras 2
    # takes it: graded under Keras 2, with a note that says so.
    Case("fresh_en_float_size_keras3_style", "float size", "en", partial(
        fresh, TF_IMPORTS + "\nfrom tensorflow import keras",
        "hidden = 300\nmodel = Sequential()\nmodel.add(keras.Input(shape=(None, 1)))\n"
        "model.add(LSTM(50, return_sequences=True))", "model.add(LSTM(100, return_sequences=True))",
        "model.add(LSTM(hidden))", "model.add(Dense(hidden / 3))\nmodel.add(Dense(10))", "model.summary()"),
        ALL, note="100.0"),
]

BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"

# Cases graded a second time in the other language, so each `first` substring is checked in both.
OTHER_LANGUAGE = [
    "template_zh_comment_left_missing_return_sequences",
    "template_zh_comment_left_keras1_output_dim",
    "fresh_zh_bidirectional_all_lstms",
    "template_en_comment_left_units_64",
    "fresh_en_cudnnlstm",
    "fresh_en_timedistributed_seq2seq",
    "fresh_en_wrong_input_dim_30",
    "template_zh_step3_input_dim_50",
    "fresh_en_return_sequences_as_a_string",
    "fresh_zh_keras_sequential_without_parentheses_cell_per_step",
    "fresh_en_wrapper_object_extra_layers",
]


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's notebook as `folder/<name>.ipynb`; its student id is the name."""
    path = Path(folder) / f"{case.name}.ipynb"
    nb = case.notebook()
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def first_sentence(reason: str) -> str:
    """A reason's first sentence: up to the first ". " or "。"."""
    ends = [index for index in (reason.find(". "), reason.find("。")) if index >= 0]
    return reason[:min(ends)] if ends else reason
