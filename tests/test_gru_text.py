"""The GRU text classifier exercise (exercises/gru_text), end to end: real notebooks, real kernels.

All cases are graded as one class in ONE batch run (`grade FOLDER -o OUT -j 2 --exercise gru_text`);
the assertions are per case. The cases: both shipped solutions (full marks), the untouched student
templates (0, graded, no crash), each step wrong alone, an error carried forward (a wrong early
layer that makes a later correct line raise: only the early step loses points), a one-cell answer,
and Keras 2 and Keras 3 spellings.
"""

from __future__ import annotations

from tests.exercise_batch import FULL, Case, exercise_tests, replaced, shipped_cases, without

EXERCISE = "gru_text"


# The template's imports (tensorflow.keras: Keras 3, or tf-keras in a Keras 2 kernel).
IMPORTS = ("from tensorflow import keras\n"
           "from tensorflow.keras.models import Sequential\n"
           "from tensorflow.keras.layers import Embedding, GRU, Dense\n"
           "model = Sequential()\n")
STEP1 = IMPORTS + "model.add(keras.Input(shape=(None,)))\nmodel.add(Embedding(input_dim=10000, output_dim=32))"
RIGHT = (STEP1,
         "model.add(GRU(32))",
         'model.add(Dense(1, activation="sigmoid"))',
         'model.compile(loss="binary_crossentropy", optimizer="adam")',
         "model.summary()")


def answer(**steps: str) -> tuple[str, ...]:
    return replaced(RIGHT, **steps)


CASES = [
    *shipped_cases(EXERCISE),
    # Each step wrong alone.
    Case("step1_output_dim_64", without(1), answer(step1=STEP1.replace("output_dim=32", "output_dim=64")),
         lang="en", wrong={1: "output_dim"}),
    Case("step2_gru_64", without(2), answer(step2="model.add(GRU(64))"), wrong={2: "units"}),
    Case("step2_returns_sequences", without(2), answer(step2="model.add(GRU(32, return_sequences=True))"),
         lang="en", wrong={2: "return_sequences"}),
    Case("step3_no_sigmoid", without(3), answer(step3="model.add(Dense(1))"), wrong={3: "activation"}),
    Case("step4_wrong_loss", without(4),
         answer(step4='model.compile(loss="mse", optimizer="adam")'), lang="en"),
    Case("step4_wrong_optimizer", without(4),
         answer(step4='model.compile(loss="binary_crossentropy", optimizer="sgd")')),
    Case("step5_no_summary", without(5), answer(step5="print(model)"), lang="en"),
    # The batch dimension written into the input's shape: Embedding gives 4-D output, so the right
    # GRU(32) of step 2 raises (expected ndim=3, found ndim=4). Only step 1 made the mistake.
    Case("carried_input_shape", without(1), answer(step1=STEP1.replace("shape=(None,)", "shape=(None, None)")),
         error_at="step2"),
    # The whole model in the first answer cell, the later cells left as comments.
    Case("one_cell", FULL, ("\n".join([STEP1, *RIGHT[1:]]), "# 见上", "# 见上", "# 见上", "# 见上")),
    # Keras 2 spellings. The textbook's Embedding without an input shape: tf-keras gives it the input
    # (None, None) by itself (Keras 3 leaves the model unbuilt until it is called or built).
    Case("keras2_textbook_embedding", FULL, answer(step1=IMPORTS + "model.add(Embedding(10000, 32))"), lang="en"),
    # Adam(lr=...) exists only in Keras 2: the notebook is graded under tf-keras.
    Case("keras2_only_adam_lr", FULL,
         answer(step1=IMPORTS + "model.add(Embedding(10000, 32, input_shape=(None,)))",
                step2="model.add(GRU(units=32, return_sequences=False))",
                step4='model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(lr=0.001),'
                      ' metrics=["accuracy"])'),
         keras="2"),
    # Keras 3: standalone keras, keyword arguments, loss and optimizer as objects.
    Case("keras3_objects", FULL,
         ("import keras\nfrom keras import layers\nmodel = keras.Sequential()\n"
          "model.add(keras.Input(shape=(None,)))\nmodel.add(layers.Embedding(input_dim=10000, output_dim=32))",
          "model.add(layers.GRU(units=32))",
          'model.add(layers.Dense(units=1, activation="sigmoid"))',
          "model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(learning_rate=1e-3))",
          "model.summary()"),
         lang="en", keras="3"),
]
globals().update(exercise_tests(EXERCISE, CASES))
