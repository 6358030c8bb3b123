"""The small CNN exercise (exercises/cnn_image), end to end: real notebooks, real kernels.

All cases are graded as one class in ONE batch run (`grade FOLDER -o OUT -j 2 --exercise cnn_image`);
the assertions are per case. The cases: both shipped solutions (full marks), the untouched student
templates (0, graded, no crash), each step wrong alone, an error carried forward (a wrong early
layer that makes a later correct line raise: only the early step loses points), a one-cell answer,
and Keras 2 and Keras 3 spellings.
"""

from __future__ import annotations

from tests.exercise_batch import FULL, Case, exercise_tests, replaced, shipped_cases, without

EXERCISE = "cnn_image"


# The template's imports (tensorflow.keras: Keras 3, or tf-keras in a Keras 2 kernel).
IMPORTS = ("from tensorflow import keras\n"
           "from tensorflow.keras.models import Sequential\n"
           "from tensorflow.keras.layers import Conv2D, MaxPooling2D, Flatten, Dense\n"
           "model = Sequential()\n")
STEP1 = IMPORTS + 'model.add(keras.Input(shape=(28, 28, 1)))\nmodel.add(Conv2D(32, (3, 3), activation="relu"))'
RIGHT = (STEP1,
         "model.add(MaxPooling2D((2, 2)))",
         'model.add(Conv2D(64, (3, 3), activation="relu"))\nmodel.add(MaxPooling2D((2, 2)))',
         'model.add(Flatten())\nmodel.add(Dense(10, activation="softmax"))',
         "model.summary()")


def answer(**steps: str) -> tuple[str, ...]:
    return replaced(RIGHT, **steps)


CASES = [
    *shipped_cases(EXERCISE),
    # Each step wrong alone.
    Case("step1_conv16", without(1), answer(step1=STEP1.replace("Conv2D(32", "Conv2D(16")), wrong={1: "filters"}),
    Case("step2_pool3", without(2), answer(step2="model.add(MaxPooling2D((3, 3)))"), lang="en",
         wrong={2: "pool_size"}),
    Case("step3_kernel5", without(3),
         answer(step3='model.add(Conv2D(64, (5, 5), activation="relu"))\nmodel.add(MaxPooling2D((2, 2)))'),
         wrong={3: "kernel_size"}),
    Case("step3_no_relu", without(3),
         answer(step3="model.add(Conv2D(64, (3, 3)))\nmodel.add(MaxPooling2D((2, 2)))"), lang="en",
         wrong={3: "activation"}),
    # Dense straight on the 5x5x64 maps: Keras applies it to the last axis, (None, 5, 5, 10).
    Case("step4_no_flatten", without(4), answer(step4='model.add(Dense(10, activation="softmax"))')),
    Case("step4_dense5", without(4), answer(step4='model.add(Flatten())\nmodel.add(Dense(5, activation="softmax"))'),
         lang="en", wrong={4: "units"}),
    Case("step5_no_summary", without(5), answer(step5="print(model)")),
    # GlobalMaxPooling2D where MaxPooling2D((2, 2)) is asked: its 2-D output makes the right
    # Conv2D(64) of step 3 raise (expected min_ndim=4). Only step 2 made the mistake.
    Case("carried_global_pooling", without(2),
         answer(step2="model.add(keras.layers.GlobalMaxPooling2D())"), lang="en", error_at="step3"),
    # The whole model in the first answer cell, the later cells left as comments.
    Case("one_cell", FULL, ("\n".join([STEP1, *RIGHT[1:]]), "# 见上", "# 见上", "# 见上", "# 见上")),
    # Keras 2 spellings: input_shape on the first layer, kernel and pool sizes as one number,
    # the MaxPool2D alias, keyword arguments.
    Case("keras2_spellings", FULL,
         answer(step1=IMPORTS + "from tensorflow.keras.layers import MaxPool2D\n"
                "model.add(Conv2D(filters=32, kernel_size=3, activation='relu', input_shape=(28, 28, 1)))",
                step2="model.add(MaxPool2D(pool_size=2))",
                step3="model.add(Conv2D(filters=64, kernel_size=3, activation='relu'))\nmodel.add(MaxPool2D(2))",
                step4="model.add(Flatten())\nmodel.add(Dense(units=10, activation='softmax'))")),
    # batch_input_shape on a layer exists only in Keras 2: the notebook is graded under tf-keras.
    Case("keras2_only_batch_input_shape", FULL,
         answer(step1=IMPORTS + "model.add(Conv2D(32, (3, 3), activation='relu', batch_input_shape=(None, 28, 28, 1)))"),
         lang="en", keras="2"),
    # The TensorFlow tutorials' activations: tf.nn.relu and tf.nn.softmax are relu and softmax.
    Case("tf_nn_activations", FULL,
         answer(step1=STEP1.replace('activation="relu"', "activation=tf.nn.relu").replace(
                    "from tensorflow import keras", "import tensorflow as tf\nfrom tensorflow import keras"),
                step3="model.add(Conv2D(64, (3, 3), activation=tf.nn.relu))\nmodel.add(MaxPooling2D((2, 2)))",
                step4="model.add(Flatten())\nmodel.add(Dense(10, activation=tf.nn.softmax))")),
]
globals().update(exercise_tests(EXERCISE, CASES))
