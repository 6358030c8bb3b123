"""The one message catalogue: `text("check.fail", "zh", label=..., ...)`."""

from __future__ import annotations

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

    def reason(self, lang: str) -> str:
        return f"{self.path}: {text(f'{self.section}.{self.key}', lang, **self.fields)}"
