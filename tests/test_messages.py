"""The message catalogue speaks every language for every message."""

import string

from grader.messages import LANGUAGES, _catalogue, detect_language


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

