"""The package's layering, as README's Layout describes it: checked on the source, not trusted."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from grader.options import BatchOptions, GradeOptions

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
JUDGE = ("grading", "check_kinds", "checks")
WRITERS = ("report_terminal", "report_html", "report_csv", "dashboard", "templating")


def grader_imports(path: Path) -> set[str]:
    """The grader modules a file imports, by full name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("grader")}
    return names


def outside_kernel() -> list[Path]:
    """Every module of the package but the kernel's, those of its other subpackages (grader/lms) included."""
    return sorted(path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] != "kernel")


def test_outside_the_kernel_package_the_kernel_is_reached_through_its_entry_point_only():
    reached = {path.name: sorted(name for name in grader_imports(path) if name.startswith("grader.kernel."))
               for path in outside_kernel()}
    assert {name: modules for name, modules in reached.items() if modules} == {}


def test_the_judge_and_the_writers_never_reach_the_kernel():
    for path in outside_kernel():
        if path.stem in JUDGE + WRITERS:
            assert not {name for name in grader_imports(path) if name.startswith("grader.kernel")}, path.name


def test_the_entry_point_imports_nothing_until_asked():
    """A jail holds grader/kernel/__init__.py beside the probe and nothing else of the grader."""
    code = ("import sys, grader.kernel; print(sorted(m for m in sys.modules if m.startswith('grader')));"
            "grader.kernel.Limits; print('grader.kernel.sandbox' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=PACKAGE.parent).stdout.split("\n")
    assert shown[:2] == ["['grader', 'grader.kernel']", "True"]


def test_the_entry_point_names_only_what_exists():
    import grader.kernel as kernel
    for name in kernel.__all__:
        assert getattr(kernel, name) is not None
    with pytest.raises(AttributeError):
        kernel.open_jail  # noqa: B018  (an internal name is not part of the entry point)


def test_options_refuse_what_the_command_line_would():
    with pytest.raises(ValueError, match="keras='4'"):
        GradeOptions(keras="4")
    with pytest.raises(ValueError, match="lang='fr'"):
        GradeOptions(lang="fr")
    assert GradeOptions().shown_lang == "en" and GradeOptions(lang="zh").shown_lang == "zh"
    assert BatchOptions().grading.warm and not GradeOptions().warm  # a class forks warm kernels; one notebook need not
