"""lstm-grader: grades the Keras LSTM network exercise, step by step."""

__version__ = "0.1.0"
