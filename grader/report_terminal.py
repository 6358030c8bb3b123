"""The terminal summary: a rich table of steps, points and one-line reasons, from a GradeResult."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.messages import escape_controls, status_label, text
from grader.results import GradeResult, StepResult


def print_result(result: GradeResult, console: Console) -> None:
    """The table; every text from the notebook (its name, errors, notes) with control characters escaped."""
    lang = result.lang
    table = Table(title=Text(escape_controls(result.notebook)), title_justify="left")
    table.add_column(text("terminal.step", lang))
    table.add_column(text("terminal.points", lang), justify="right")
    table.add_column(text("terminal.result", lang))
    for number, step in enumerate(result.steps, start=1):
        table.add_row(Text(f"{number}. {step.title}"), f"{step.score}/{step.max_score}", _reason(step, lang))
    console.print(table)
    for note in result.notes:
        console.print(Text(f"• {escape_controls(note)}"))
    total = text("terminal.total", lang)
    keras = text("terminal.keras", lang)
    status = f"{text('terminal.status', lang)}: {status_label(result.status, lang)}"
    seconds = text("terminal.seconds", lang, seconds=f"{result.seconds:.1f}")
    console.print(Text.assemble((f"{total}: {result.score}/{result.max_score}", "bold"),
                                f"   {status}   {keras}: {result.keras or '-'}   {seconds}"))


def _reason(step: StepResult, lang: str) -> Text:
    if step.passed:
        return Text("✓ " + text("terminal.passed", lang), style="green")
    # fold: a run of Chinese text has no space to wrap at, and is never cut short with "…"
    return Text(f"✗ {escape_controls(step.reason or text('terminal.failed', lang))}", style="red", overflow="fold")
