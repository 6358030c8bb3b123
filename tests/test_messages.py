"""The message catalogue speaks every language for every message."""

import string

import pytest

from grader.messages import LANGUAGES, _catalogue, detect_language, status_label, text, with_more_failed
from grader.results import STATUSES


def test_every_message_exists_in_every_language_with_the_same_fields():
    for section, by_lang in _catalogue().items():
        keys = {lang: set(by_lang[lang]) for lang in LANGUAGES}
        assert keys["zh"] == keys["en"], section
        for key in keys["en"]:
            fields = {lang: {name for _, name, _, _ in string.Formatter().parse(by_lang[lang][key]) if name}
                      for lang in LANGUAGES}
            assert fields["zh"] == fields["en"], f"{section}.{key}"


def test_language_detection():
    assert detect_language(["# 按照要求创建", "model.summary()"]) == "zh"
    assert detect_language(["# Build a network", "model.summary()"]) == "en"


KERAS_UNBUILT = ("This model has not yet been built. Build the model first by calling `build()` or by calling the "
                 "model on a batch of data.")


@pytest.mark.parametrize("evalue, en, zh", [
    (KERAS_UNBUILT, f"Your code raised ValueError: {KERAS_UNBUILT}", f"你的代码出错了：ValueError：{KERAS_UNBUILT}"),
    ("模型还没有建立。", "Your code raised ValueError: 模型还没有建立。", "你的代码出错了：ValueError：模型还没有建立。"),
    ("Wait!", "Your code raised ValueError: Wait!", "你的代码出错了：ValueError：Wait!"),
    ("no stop", "Your code raised ValueError: no stop.", "你的代码出错了：ValueError：no stop。"),
    ("LSTM(50, ...)", "Your code raised ValueError: LSTM(50, ...).", "你的代码出错了：ValueError：LSTM(50, ...)。"),
])
def test_a_field_that_ends_its_own_sentence_gets_no_second_full_stop(evalue, en, zh):
    """Keras's message keeps its own full stop; the catalogue's is left out: never `..`, `.。`, `。.`."""
    assert text("error.raised", "en", ename="ValueError", where="", evalue=evalue) == en
    assert text("error.raised", "zh", ename="ValueError", where="", evalue=evalue) == zh


def test_the_catalogue_keeps_its_own_punctuation_between_fields():
    assert text("explain.model", "en", name="model") == ("Keep the model in a variable named model: model = Sequential() "
                                                         "in step 1, then model.add(...) in every step.")
    assert text("cli.cannot_write", "en", path="out.", error="read-only") == "grade: cannot write out.: read-only"
    assert text("batch.line", "en", done=1, total=2, file="a.ipynb", score=80, max_score=100, status="graded",
                seconds=3) == "[1/2] a.ipynb: 80/100 graded (3 s)"


@pytest.mark.parametrize("first, more, lang, said", [
    ("return_sequences: expected True, got False", 0, "en", "return_sequences: expected True, got False"),
    ("return_sequences: expected True, got False", 1, "en",
     "return_sequences: expected True, got False (and 1 more failed check)"),
    (f"Your code raised ValueError: {KERAS_UNBUILT}", 2, "en",
     f"Your code raised ValueError: {KERAS_UNBUILT} (and 2 more failed checks)"),
    ("return_sequences：应为 True，实际为 False", 2, "zh", "return_sequences：应为 True，实际为 False（还有 2 项检查未通过）"),
    ("代码里还有 <None>。", 1, "zh", "代码里还有 <None>。（还有 1 项检查未通过）"),
])
def test_more_failed_checks_are_said_in_words(first, more, lang, said):
    assert with_more_failed(first, more, lang) == said
    assert "(+" not in said


def test_every_status_has_a_label_in_each_language():
    """The terminal and the report show statuses in the reader's language; JSON and CSV keep the machine word."""
    for status in STATUSES:
        zh, en = status_label(status, "zh"), status_label(status, "en")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), status
        assert en.isascii() and en != zh, status
    assert status_label("graded", "zh") == "已评分"
