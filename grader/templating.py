"""The one jinja environment the HTML writers (report, dashboard) render with.

Autoescape is on and nothing from a notebook is ever marked safe, so code, outputs and names
show as text and cannot run script; an undefined name in a template is an error, not a blank.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from grader import __version__
from grader.messages import text

_ENV = Environment(loader=PackageLoader("grader", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["number"] = lambda value: "?" if value is None else f"{value:,}"


def render(template: str, lang: str, **context) -> str:
    """`template` rendered in `lang`: its `t(key, **fields)` reads the catalogue in that language."""
    def t(key: str, **fields) -> str:
        return text(key, lang, **fields)

    return _ENV.get_template(template).render(t=t, lang=lang, version=__version__, **context)
