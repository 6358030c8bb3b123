"""The one message catalogue: `text("check.fail", "zh", label=..., ...)`."""

from __future__ import annotations

import re
import string
import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
_CATALOGUE = Path(__file__).with_name("messages.toml")


@cache
def _catalogue() -> dict:
    return tomllib.loads(_CATALOGUE.read_text(encoding="utf-8"))


# What ends a sentence, and the full stops a message may put after a field that already ends one.
_SENTENCE_ENDS = (".", "。", "!", "?", "！", "？", "…")
_FULL_STOPS = (".", "。")
_FORMATTER = string.Formatter()


def text(key: str, lang: str, **fields) -> str:
    """The message `section.name` in `lang`, with its {fields} filled in. A field that ends its own
    sentence (Keras's message ending in a full stop) keeps its mark and the message's full stop
    right after it is left out: never `data..`, `data.。` or `完成。.`. The field itself is never
    changed (a path or a name may end in a dot)."""
    section, name = key.split(".", 1)
    parts: list[str] = []
    ended = False
    for literal, field, spec, conversion in _FORMATTER.parse(_catalogue()[section][lang][name]):
        if ended and literal.startswith(_FULL_STOPS):
            literal = literal[1:]
        parts.append(literal)
        if field is None:
            ended = False
            continue
        value = _FORMATTER.convert_field(_FORMATTER.get_field(field, (), fields)[0], conversion)
        shown = _FORMATTER.format_field(value, spec or "")
        parts.append(shown)
        ended = shown.endswith(_SENTENCE_ENDS)
    return "".join(parts)


def status_label(status: str, lang: str) -> str:
    """A result's status (grader/results.py STATUSES) as the reader's language says it."""
    return text(f"report.status_{status}", lang)


def with_more_failed(first: str, more: int, lang: str) -> str:
    """A failed step's first sentence, and how many more of its checks failed, in words."""
    if not more:
        return first
    return first + text("reason.more_one" if more == 1 else "reason.more", lang, count=more)


# C0 and C1 controls (ESC starts a terminal escape sequence), DEL, and the invisible characters
# that reorder or hide text: zero-width marks, bidi overrides and isolates, line separators, BOM.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def escape_controls(value: object) -> str:
    """`value` as text with every control character written out (`\\x1b`, `\\u202e`), for the terminal
    and the CSV: a name can then neither move the cursor, recolour the screen nor hide what follows."""
    return _CONTROLS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(value))


def detect_language(texts: list[str]) -> str:
    """Chinese when the notebook's own text holds Chinese characters, else English."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for text in texts for ch in text) else "en"


class CatalogueError(Exception):
    """An error about a path whose message lives in the catalogue, under `section`: `reason(lang)`
    says it in either language; str() in English."""

    section = ""

    def __init__(self, path, key: str, **fields) -> None:
        self.path, self.key, self.fields = path, key, fields
        super().__init__(self.reason("en"))

    def reason(self, lang: str, shown: str | None = None) -> str:
        """`path: what is wrong`; `shown` replaces the path (a submission's name instead of where it was unpacked)."""
        return f"{self.path if shown is None else shown}: {text(f'{self.section}.{self.key}', lang, **self.fields)}"
