"""A failed step's first sentence: a placeholder only where it is code, an error with the
student's line and what to do, printed text without machine noise."""

from grader.errors import error_sentence, has_placeholder, machine_gap, ran_nothing
from grader.runs import ErrorInfo, printed_text, scrub_paths

TEMPLATE_COMMENT = "#请在此处编写代码，并将<None>处代码补充完整\n"


def test_a_placeholder_counts_in_code_only():
    assert not has_placeholder(TEMPLATE_COMMENT + "model.add(LSTM(100, return_sequences=True))", "<None>")
    assert not has_placeholder("note = '<None> goes here'\nmodel.summary()", "<None>")
    assert has_placeholder(TEMPLATE_COMMENT + "model.add(<None>)", "<None>")
    assert has_placeholder(TEMPLATE_COMMENT + "model.<None>()", "<None>")
    assert has_placeholder("model.add(LSTM(<None>,\n", "<None>")  # does not tokenize: read line by line


def error(ename: str, evalue: str, line: str) -> ErrorInfo:
    return ErrorInfo(ename, evalue, f"Traceback (most recent call last):\n  Cell In[3], line 2\n    {line}\n{ename}: {evalue}")


def test_an_error_names_the_exception_the_line_and_what_to_do():
    line = "model.add(LSTM(output_dim=50, return_sequences=True))"
    raised = error("TypeError", "LSTM.__init__() missing 1 required positional argument: 'units'", line)
    assert error_sentence(raised, line, "en") == (
        f"Your code raised TypeError at `{line}`: LSTM.__init__() missing 1 required positional argument: "
        "'units'. `output_dim` is Keras 1: write `units=`, e.g. LSTM(units=50, ...).")
    assert error_sentence(raised, line, "zh").startswith(f"你的代码出错了：TypeError（在 `{line}` 这一行）")
    undefined = error("NameError", "name 'X_train' is not defined", "model.fit(X_train, y_train)")
    assert error_sentence(undefined, "", "en").endswith(
        "`X_train` is not defined where this step runs: define or import it in an earlier cell.")


def test_a_missing_common_library_is_the_machines_gap():
    gap = ErrorInfo("ModuleNotFoundError", "No module named 'seaborn' (the grading machine does not have it)", "")
    assert machine_gap(gap) == "seaborn"
    assert machine_gap(ErrorInfo("ModuleNotFoundError", "No module named 'keras.layers.recurrent'", "")) is None


def test_the_printed_summary_has_no_logs_warnings_or_machine_paths():
    outputs = [{"output_type": "stream", "name": "stdout", "text":
                "2026-01-01 10:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] "
                "failed call to cuInit\nModel: \"sequential\"\n"
                "/work/main/.venv/lib/python3.11/site-packages/keras/src/layers/rnn/rnn.py:200: UserWarning: "
                "Do not pass an `input_shape`\n  super().__init__(**kwargs)\nTotal params: 583,110\n"},
               {"output_type": "stream", "name": "stderr", "text": "W0000 00:00:1 something\n"}]
    assert printed_text(outputs) == 'Model: "sequential"\nTotal params: 583,110\n'
    assert scrub_paths("File /opt/venv/lib/python3.11/site-packages/keras/src/x.py, line 3") == \
        "File keras/src/x.py, line 3"


def test_a_cell_that_does_not_compile_ran_nothing():
    """Its failed checks then only restate the first sentence, and are neither counted nor listed."""
    assert ran_nothing("SyntaxError: invalid syntax (line 8)", placeholder=False)
    assert ran_nothing("IndentationError", placeholder=False)
    assert ran_nothing(None, placeholder=True)
    assert not ran_nothing("ValueError: Input 0 of layer is incompatible", placeholder=False)
    assert not ran_nothing(None, placeholder=False)
