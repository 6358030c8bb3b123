"""lstm-grader: grades Keras network exercises (the first: an LSTM network), step by step."""

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """`%load_ext grader`: the `%grade` magic (grader/magic.py)."""
    import os
    if os.environ.get("LSTM_GRADER_SANDBOX"):  # being graded: the probe's `%grade` does nothing there
        return
    # The whole grader, imported only here: a grading jail holds this file and the kernel-side
    # modules only.
    from grader.magic import load
    load(ipython)
