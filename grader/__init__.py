"""lstm-grader: grades Keras network exercises (the first: an LSTM network), step by step."""

__version__ = "0.1.0"
