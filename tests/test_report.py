"""The HTML report: rendered from real grading results, and opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html import unescape
from importlib.metadata import version
from pathlib import Path

import pytest

from grader.grade import grade_notebook
from grader.messages import text
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
        "keras2_reference": ROOT / "solutions/lstm_network/reference_keras2.ipynb",
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
    assert "return_sequences: expected True, got False (and 1 more failed check)" in text  # "(+1)" in words
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
    assert "return_sequences：应为 True，实际为 False（还有 1 项检查未通过）" in text
    assert "<li>状态: 已评分</li>" in html(reports, "partly_wrong.zh")  # the status in the report's language
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


def test_the_header_shows_the_keras_version_of_a_keras2_answer_and_the_note_stays_among_the_notes(reports):
    """The course's own Keras 2 reference answer, graded for real under tf-keras."""
    tf_keras = version("tf-keras")
    for lang, header in (("en", f"<li>Keras: {tf_keras} (tf-keras)</li>"),
                         ("zh", f"<li>Keras 版本: {tf_keras}（tf-keras）</li>")):
        page = html(reports, f"keras2_reference.{lang}")
        meta = re.search(r'<ul class="meta">(.*?)</ul>', page, re.S).group(1)
        notes = re.search(r'<section aria-labelledby="notes-heading">(.*?)</section>', page, re.S).group(1)
        assert header in meta and text("note.keras2", lang) not in meta, lang
        assert f"<li>{text('note.keras2', lang)}</li>" in notes, lang
        assert "100 / 100" in visible_text(page)
    assert f"<li>Keras: {version('keras')}</li>" in html(reports, "correct.en")


# Is a piece of a summary box's text inside the box's visible area, as the page opens (`at_rest`) and
# once the box is scrolled sideways to it (`scrolled`)? The box's text is one text node.
SEEN_IN_BOX = """([index, start, end]) => {
  const box = document.querySelectorAll('.summaries pre')[index];
  const range = document.createRange();
  range.setStart(box.firstChild, start);
  range.setEnd(box.firstChild, end);
  const seen = () => {
    const piece = range.getBoundingClientRect(), frame = box.getBoundingClientRect();
    const left = frame.left + box.clientLeft, right = left + box.clientWidth;
    return piece.width > 0 && piece.left >= left - 0.5 && piece.right <= right + 0.5
      && frame.left >= 0 && frame.right <= window.innerWidth + 0.5;
  };
  box.scrollLeft = 0;
  const at_rest = seen();
  const past = range.getBoundingClientRect().right - (box.getBoundingClientRect().left + box.clientLeft + box.clientWidth);
  if (past > 0) box.scrollLeft += past + 2;
  return {at_rest, scrolled: seen()};
}"""
BOX = """(index) => {
  const box = document.querySelectorAll('.summaries pre')[index];
  const style = getComputedStyle(box);
  return {text: box.firstChild.textContent, overflow: style.overflowX, font: parseFloat(style.fontSize),
          scroll: box.scrollWidth, client: box.clientWidth};
}"""
LAYER_ROW = re.compile(r"^\W*\w+ \(\w+\)\s.*\s(\d[\d,]*)\W*$")


def param_column(summary: str) -> list[tuple[str, int, int]]:
    """The "Param #" header and each layer's parameter number: (text, start, end) in the summary."""
    start = summary.index("Param #")
    found = [("Param #", start, start + len("Param #"))]
    offset = 0
    for line in summary.splitlines(keepends=True):
        row = LAYER_ROW.match(line.rstrip("\n"))
        if row:
            found.append((row.group(1), offset + row.start(1), offset + row.end(1)))
        offset += len(line)
    return found


def test_the_summary_boxes_show_the_param_column_at_1280_and_390_px(reports):
    """Step 5 is about the Param # column: at 1280 px both summaries show it whole; at 390 px each
    box scrolls sideways (in a smaller monospace, the page itself never wider than the screen)
    and every number comes into view in it."""
    with chromium() as browser:
        for name in ("correct.en", "correct.zh"):
            fonts = {}
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 844})
                page.goto(reports[name].as_uri())
                assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
                numbers = []
                for index in (0, 1):  # the student's summary, the course's
                    box = page.evaluate(BOX, index)
                    column = param_column(box["text"])
                    numbers.append([int(number.replace(",", "")) for number, _, _ in column[1:]])
                    assert len(column) == 1 + 5, (name, width, index, column)
                    fonts[width] = box["font"]
                    for piece, start, end in column:
                        seen = page.evaluate(SEEN_IN_BOX, [index, start, end])
                        if width == 1280:
                            assert seen["at_rest"], (name, index, piece)
                        else:
                            assert box["overflow"] in ("auto", "scroll") and seen["scrolled"], (name, index, piece)
                    if width == 1280:
                        assert box["scroll"] <= box["client"], (name, index)
                assert numbers[0] == numbers[1]  # the student's model is the course's, number for number
                assert page.locator(".scroll-hint").is_visible() == (width == 390)
                page.close()
            assert fonts[390] < fonts[1280]


@pytest.mark.parametrize("lang, first, status", [
    ("zh", "代码里还有 <None>：它不是 Python 代码（SyntaxError），所以整个单元格一行也没有运行。请把 <None> 换成你的代码。",
     "状态: 已评分"),
    ("en", "The code still contains <None>: it is not Python (SyntaxError), so none of the cell's lines ran. "
           "Replace <None> with your code.", "Status: graded"),
])
def test_the_untouched_template_names_the_cell_that_did_not_run_once(tmp_path, lang, first, status):
    """Step 1's cell holds `model=Sequential()` and a `<None>`: the cell never compiled, and the
    report says so once, without the checks that only restate it ("no model named model")."""
    notebook = Path(shutil.copy(ROOT / f"exercises/lstm_network/lstm_network.{lang}.ipynb", tmp_path / "mine.ipynb"))
    done = subprocess.run([sys.executable, "-m", "grader", str(notebook), "--json", str(tmp_path / "mine.json")],
                          capture_output=True, text=True, cwd=ROOT, timeout=grading_bound([notebook]))
    assert done.returncode == 1, done.stderr
    result = json.loads((tmp_path / "mine.json").read_text())
    step = result["steps"][0]
    assert (result["score"], result["status"], step["reason"]) == (0, "graded", first)
    assert "model=Sequential()" in step["code"]
    assert all(other["reason"] == first for other in result["steps"])  # no "(+2)": the cause alone
    status_line = next(line for line in done.stdout.splitlines() if status.split(":")[0] in line)
    assert status in status_line and (lang == "en" or "graded" not in status_line)  # the terminal's status word
    assert "(+" not in done.stdout
    page = default_report_path(notebook).read_text(encoding="utf-8")
    article = re.search(r'<article class="step fail" id="step1".*?</article>', page, re.S).group()
    shown = unescape(visible_text(article))
    assert shown.count(first) == 1  # not again among the step's notes
    assert 'class="checks"' not in article
    assert text("check.no_model", lang, name="model") not in shown
    assert text("explain.model", lang, name="model") not in shown
    assert "SyntaxError" in unescape(visible_text(page.split('id="errors-heading"')[1]))  # the traceback, below
