"""The one message catalogue: `text("check.fail", "zh", label=..., ...)`."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
_CATALOGUE = Path(__file__).with_name("messages.toml")


@cache
def _catalogue() -> dict:
    return tomllib.loads(_CATALOGUE.read_text(encoding="utf-8"))


def text(key: str, lang: str, **fields) -> str:
    """The message `section.name` in `lang`, with its {fields} filled in."""
    section, name = key.split(".", 1)
    return _catalogue()[section][lang][name].format(**fields)


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
