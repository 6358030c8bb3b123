"""The HTML report: rendered from real grading results, and opened in a real headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grade import grade_notebook
from grader.report_html import default_report_path, write_html
from grader.options import GradeOptions
from tests.browser import chromium
from tests.notebooks import KERAS3, replace, write_notebook
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
INJECTED = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'
EVIL_NAME = '<img src=x onerror=alert(1)>.ipynb'


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Reports of a correct, a partly wrong, a broken-cell and a hostile notebook, in both languages."""
    folder = tmp_path_factory.mktemp("reports")
    notebooks = {
        "correct": ROOT / "solutions/lstm_network/idiomatic_keras3.ipynb",
        "partly_wrong": write_notebook(folder, replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", "")),
                                       name="partly_wrong.ipynb"),
        "broken_cell": write_notebook(folder, replace(KERAS3, 2, "model.add(LSTM(100, return_sequences=True)"),
                                      name="broken_cell.ipynb"),
        "hostile": write_notebook(folder, replace(replace(
            KERAS3, 5, f"model.summary()\nprint({INJECTED!r})"), 3,
            f"model.add(LSTM(300))\nraise ValueError({INJECTED!r})"), name=EVIL_NAME),
    }
    paths = {}
    for name, notebook in notebooks.items():
        for lang in ("en", "zh"):
            result = grade_notebook(notebook, GradeOptions(lang=lang, warm=True))
            paths[f"{name}.{lang}"] = write_html(result, folder / f"{name}.{lang}.html")
    return paths


def html(reports, name: str) -> str:
    return reports[name].read_text(encoding="utf-8")


def visible_text(page_html: str) -> str:
    body = re.sub(r"<style>.*?</style>", " ", page_html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def badges(page_html: str) -> list[str]:
    return re.findall(r'<span class="badge">([^<]+)</span>', page_html)


def test_correct_notebook_report(reports):
    page = html(reports, "correct.en")
    text = visible_text(page)
    assert "100 / 100" in text
    assert "All steps are right. Well done!" in text
    assert badges(page) == ["Passed"] * 5 and "Failed" not in text
    assert "<mark" not in page  # the network matches the expected one everywhere
    assert "Total params: 583,110" in page  # the student's own summary, and the course's
    assert "Keras: 3." in text


def test_partly_wrong_report_explains_and_points_at_the_real_error(reports):
    text = visible_text(html(reports, "partly_wrong.en"))
    assert "80 / 100" in text
    assert "4 of 5 steps are right." in text
    assert badges(html(reports, "partly_wrong.en")) == ["Failed"] + ["Passed"] * 4
    assert "return_sequences: expected True, got False" in text
    assert "every LSTM layer followed by another LSTM layer needs return_sequences=True" in text
    assert "because of step 1 (First LSTM layer)" in text
    assert "False (differs from the expected)" in text
    assert "ValueError" in text  # the error the student's step-2 cell raised in the notebook


def test_broken_cell_report_shows_the_code_and_the_error(reports):
    page = html(reports, "broken_cell.en")
    text = visible_text(page)
    assert "80 / 100" in text
    assert "Errors while running" in text and "SyntaxError" in text
    assert "model.add(LSTM(100, return_sequences=True)" in page
    assert "\x1b[" not in page  # ANSI colours are stripped from tracebacks


def test_chinese_report_uses_the_catalogue(reports):
    text = visible_text(html(reports, "partly_wrong.zh"))
    assert "笔记本评分反馈" in text and "5 个步骤中有 4 个正确" in text
    assert "return_sequences：应为 True，实际为 False" in text
    assert "Feedback on your notebook" not in text


def test_everything_from_the_notebook_is_escaped(reports):
    page = html(reports, "hostile.en")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.ipynb" in page


def test_report_is_self_contained(reports):
    for path in reports.values():
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", page)
        assert "@import" not in page and "url(" not in page and "<link" not in page


def test_reference_report_size_is_modest(reports):
    assert 10_000 < reports["correct.en"].stat().st_size < 60_000


def test_reports_in_headless_chromium(reports):
    with chromium() as browser:
        for name, path in reports.items():
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: problems.append(request.url)
                    if not request.url.startswith("file:") else None)
            page.goto(path.as_uri())
            expected_title = page.evaluate("document.querySelector('title').textContent")
            page.wait_for_timeout(200)  # give any injected handler (there must be none) time to run
            assert page.title() == expected_title and "pwned" not in page.title(), name
            assert page.locator("#score").inner_text() == re.search(r'id="score">(\d+)<', path.read_text()).group(1)
            assert problems == [], name
            page.close()


def test_report_fits_a_phone_and_prints(reports):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(reports["partly_wrong.zh"].as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator("#score").is_visible()
        page.emulate_media(media="print")
        assert page.pdf(format="A4")[:5] == b"%PDF-"
        page.close()


def test_grade_writes_the_report_beside_the_notebook_and_says_where(tmp_path):
    notebook = write_notebook(tmp_path, replace(KERAS3, 4, "model.add(Dense(100))"), name="mine.ipynb")
    done = subprocess.run([sys.executable, "-m", "grader", str(notebook), "--lang", "en"],
                          capture_output=True, text=True, cwd=ROOT, timeout=grading_bound([notebook]))
    report = tmp_path / "mine.report.html"
    assert done.returncode == 1
    assert report == default_report_path(notebook) and report.exists()
    assert f"Report: {report}\n" in done.stdout  # on one line, never wrapped, so it can be copied
    assert "80 / 100" in visible_text(report.read_text())
    skipped = subprocess.run([sys.executable, "-m", "grader", str(notebook), "--no-report", "--keras", "3"],
                             capture_output=True, text=True, cwd=ROOT, timeout=grading_bound([notebook]))
    assert skipped.returncode == 1 and "Report:" not in skipped.stdout
