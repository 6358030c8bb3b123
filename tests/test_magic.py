"""`%grade` where students work: real kernels (the student's own, as Jupyter starts them) run
notebooks that load the extension from the shipped template's first cell and call `%grade` after
each step; the displayed text and HTML are asserted, under Keras 3 and Keras 2; `%grade` and
`grade` agree per step on the same final models; the output, rendered by nbconvert, shows its
verdicts in a real Chromium without any script."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell

from grader.grade import grade_notebook
from grader.kernel.sandbox import Limits
from grader.kernel.warm import start_seconds
from grader.messages import text
from grader.options import GradeOptions
from tests.browser import chromium
from tests.class_corpus import KINDS, NO_SEQUENCES
from tests.notebooks import KERAS2, KERAS3, make_notebook, write_notebook
from tests.waiting import grading_bound

TEMPLATE = nbformat.read("exercises/lstm_network/lstm_network.en.ipynb", 4)
LOAD = next(cell.source for cell in TEMPLATE.cells if cell.cell_type == "code")  # the template's self-check cell


def with_checks(sources: list[str], lang: str = "en") -> nbformat.NotebookNode:
    """The answer, the template's loading cell first and `%grade N` after each step."""
    nb = make_notebook(sources, marked=False)
    cells = [new_code_cell(LOAD)]
    step = 0
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code":
            step += 1
            cells.append(new_code_cell(f"%grade {step} --lang {lang}"))
    nb.cells = cells
    return nb


def execute(nb: nbformat.NotebookNode, keras2: bool = False, folder: Path | None = None,
            env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run `nb` in a kernel of this Python, as Jupyter would start it for the student: in `folder`
    (the notebook's), with `env` added to its environment (a Keras 2 kernel: TF_USE_LEGACY_KERAS=1)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **({"TF_USE_LEGACY_KERAS": "1"} if keras2 else {}), **(env or {})}
    # a cell may be `%grade`, one notebook's grading; the kernel's start imports less than a warm parent's
    NotebookClient(nb, timeout=grading_bound(), startup_timeout=start_seconds(Limits()), kernel_name="python3",
                   allow_errors=True, resources={"metadata": {"path": str(folder or os.getcwd())}}).execute(env=env)
    return nb


def checks(nb) -> list[tuple[str, str]]:
    """(text/plain, text/html) of each `%grade` cell's display."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("%grade"):
            shown = [output for output in cell.outputs if output.get("output_type") == "display_data"]
            assert len(shown) == 1, cell.outputs
            found.append((shown[0]["data"]["text/plain"], shown[0]["data"]["text/html"]))
    return found


NAMES = new_code_cell("print(sorted(name for name in globals() if not name.startswith('_') "
                      "and name not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open')))")


@pytest.fixture(scope="module")
def correct():
    """The correct answer, checked after each step; then the names the notebook holds."""
    nb = with_checks(KERAS3)
    nb.cells.append(NAMES)
    return execute(nb)


@pytest.fixture(scope="module")
def mistakes():
    """In one kernel, its namespace reset between answers: a missing return_sequences checked in
    English and in Chinese, then a wrong Dense layer with no summary."""
    nb = with_checks(NO_SEQUENCES, "en")
    nb.cells.append(new_code_cell("%grade 1 --lang zh"))
    wrong = with_checks([*KERAS3[:3], "model.add(Dense(100))\nmodel.add(Dense(20))", "print(model)"])
    nb.cells += [new_code_cell("%reset -f"), *wrong.cells[1:]]
    return checks(execute(nb))


def test_a_correct_answer_is_checked_step_by_step(correct):
    shown = checks(correct)
    assert len(shown) == 5
    assert shown[0][0].splitlines()[:2] == ["Self-check (the model in this kernel): 20/20", "✓ 1. First LSTM layer  20/20"]
    assert shown[4][0].splitlines()[0] == "Self-check (the model in this kernel): 100/100"
    assert "✗" not in shown[4][0] and "✗" not in shown[4][1]
    assert shown[4][0].splitlines()[-1] == ("This is for checking your own work; your instructor's result comes from "
                                            "the grade command.")
    for cell in correct.cells:  # no TensorFlow noise, no error, from the extension
        if cell.cell_type == "code" and cell.source.startswith("%grade"):
            assert [output["output_type"] for output in cell.outputs] == ["display_data"]


def test_the_namespace_gets_nothing_but_what_the_notebook_wrote(correct):
    printed = correct.cells[-1].outputs[0]["text"]
    assert printed.strip() == "['Activation', 'Dense', 'Dropout', 'LSTM', 'Sequential', 'keras', 'model', 'np', 'tf']"


def test_a_missing_return_sequences_is_named_with_its_explanation_in_both_languages(mistakes):
    english, chinese = mistakes[0], mistakes[5]
    for (text, page), first in ((english, "return_sequences: expected True, got False"),
                                (chinese, "return_sequences：应为 True，实际为 False")):
        assert text.splitlines()[1].startswith("✗ 1. ")
        assert text.splitlines()[2].strip().startswith(first)
        assert first in page and ("✗" in page)
    assert "✗ 1. 第一个LSTM层  0/20" in chinese[0]


def test_a_wrong_dense_layer_and_a_missing_summary(mistakes):
    shown = mistakes[6:]
    lines = shown[3][0].splitlines()
    assert lines[lines.index("✗ 4. Two Dense layers  0/20") + 1].strip().startswith("units: expected 10, got 20")
    assert "✗ 5. Print each layer's parameters" in shown[4][0]
    assert "model.summary() did not run" in shown[4][0]


def test_under_a_keras_2_kernel_too():
    shown = checks(execute(with_checks(KERAS2), keras2=True))
    assert shown[4][0].splitlines()[0] == "Self-check (the model in this kernel): 100/100"


def test_without_the_package_the_cell_says_how_to_install_it(tmp_path):
    nb = nbformat.v4.new_notebook()
    hide = ("import sys\nclass Hidden:\n    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'grader':\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
            "sys.meta_path.insert(0, Hidden())\n")
    nb.cells = [new_code_cell(hide), new_code_cell(LOAD)]  # as if not installed
    execute(nb)
    assert nb.cells[1].outputs[0]["text"].startswith("The grader (lstm-grader) is not installed")


def test_grade_and_percent_grade_agree_on_the_same_final_models(tmp_path):
    """For every answer of the class corpus whose steps each ran on the student's own earlier
    steps (what a live look sees), the verdict per step is the same. One kernel runs them all,
    its namespace reset between answers."""
    graded = {kind: grade_notebook(write_notebook(tmp_path, sources, name=f"{kind}.ipynb"), GradeOptions(warm=True, lang="en"))
              for kind, (sources, _) in KINDS.items() if sources is not KERAS2}  # Keras 2: its own test
    compared = [kind for kind, result in graded.items() if all(step.judged_on == "notebook" for step in result.steps)]
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_code_cell(LOAD)]
    for kind in compared:
        nb.cells += [new_code_cell("%reset -f"), *[new_code_cell(source) for source in KINDS[kind][0]],
                     new_code_cell("%grade --lang en")]
    live = checks(execute(nb))
    for kind, (shown, _) in zip(compared, live):
        verdicts = [line.startswith("✓") for line in shown.splitlines() if re.match(r"[✓✗] \d\.", line)]
        assert verdicts == [step.passed for step in graded[kind].steps], kind
    assert len(compared) >= 5 and len(live) == len(compared)


def test_the_output_rendered_by_nbconvert_shows_the_verdicts_without_any_script(correct, tmp_path):
    page = tmp_path / "checked.html"
    body, _ = HTMLExporter().from_notebook_node(correct)
    page.write_text(body, encoding="utf-8")
    ours = re.findall(r'<div class="lstm-grader-check">.*?</div>', body, re.S)
    assert ours and not any(re.search(r"<script|\son\w+=", block, re.I) for block in ours)
    with chromium() as browser:
        tab = browser.new_context(java_script_enabled=False).new_page()
        tab.goto(page.as_uri())
        checks_shown = tab.locator(".lstm-grader-check")
        assert checks_shown.count() == 5
        assert "Self-check (the model in this kernel): 100/100" in checks_shown.nth(4).inner_text()
        assert checks_shown.nth(4).locator("text=✓").count() == 5


def test_grade_notebook_grades_the_saved_file_where_jupyter_names_it(tmp_path):
    """JupyterLab and Notebook 7 start the kernel in the notebook's folder and name the notebook in
    JPY_SESSION_NAME, relative to the server's root; VS Code names it in the namespace, and wins.
    The saved notebook is graded as `grade` grades it: jailed, with the clean replay."""
    course = tmp_path / "course"
    course.mkdir()
    write_notebook(course, NO_SEQUENCES, name="lab.ipynb")  # the saved work: step 1 wrong
    other = write_notebook(tmp_path, KERAS3, name="vscode.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_code_cell(LOAD), new_code_cell("%grade --notebook --lang en"),
                new_code_cell(f"__vsc_ipynb_file__ = {str(other)!r}"), new_code_cell("%grade --notebook --lang zh")]
    lab, vscode = checks(execute(nb, folder=course, env={"JPY_SESSION_NAME": "course/lab.ipynb"}))
    assert lab[0].splitlines()[:3] == ["Self-check (the saved notebook, graded as grade does): 80/100",
                                       "✗ 1. First LSTM layer  0/20", "    return_sequences: expected True, got False (and 1 more failed check)"]
    assert "✓ 2. Second LSTM layer  20/20" in lab[0] and "80/100" in lab[1]
    assert vscode[0].splitlines()[0] == "自查（已保存的笔记本，按 grade 的方式评分）：100/100"
    direct = grade_notebook(course / "lab.ipynb", GradeOptions(lang="en"))  # the same verdicts as grade
    assert [step.passed for step in direct.steps] == [False, True, True, True, True]


def test_grade_notebook_asks_where_the_notebook_is_when_jupyter_does_not_say(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{not json")
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_code_cell(LOAD), new_code_cell("%grade --notebook --lang en"),
                new_code_cell("%grade --notebook broken.ipynb --lang en")]
    ran = execute(nb, folder=tmp_path, env={"JPY_SESSION_NAME": ""})
    printed = [[output.get("text", "").strip() for output in cell.outputs] for cell in ran.cells[1:]]
    assert printed[0] == ["Cannot tell where this notebook is saved: write %grade --notebook your_notebook.ipynb"]
    assert len(printed[1]) == 1 and printed[1][0].startswith("grade: cannot grade ") and "not valid JSON" in printed[1][0]


# What `%load_ext grader` must not import: the first cell of every notebook runs it.
HEAVY = {"tensorflow", "keras", "tf_keras", "numpy", "nbformat", "nbclient", "nbconvert", "jinja2", "jsonschema", "rich"}


@contextmanager
def lab_kernel(folder: Path) -> Iterator[BlockingKernelClient]:
    """A kernel started as JupyterLab starts one: the ipykernel spec (python3) by a KernelManager, in
    the notebook's folder, with the server's environment as it is (TensorFlow's logging not silenced)."""
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(folder), env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=start_seconds(Limits()))
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(kernel: BlockingKernelClient, code: str, timeout: float | None = None) -> list[dict]:
    """What running `code` sent on IOPub besides the kernel's status and the code itself; it must run without error."""
    sent: list[dict] = []
    reply = kernel.execute_interactive(code, timeout=timeout or start_seconds(Limits()), output_hook=sent.append)
    assert reply["content"]["status"] == "ok", reply["content"]
    return [message for message in sent if message["msg_type"] not in ("status", "execute_input")]


def printed(messages: list[dict]) -> str:
    return "".join(message["content"]["text"] for message in messages if message["msg_type"] == "stream")


def test_importing_the_package_imports_nothing_heavy():
    done = subprocess.run([sys.executable, "-c", "import sys, grader; print(sorted(sys.modules))"],
                          capture_output=True, text=True, check=True, timeout=start_seconds(Limits()))
    assert not {name.split(".")[0] for name in ast.literal_eval(done.stdout)} & HEAVY


def test_loading_the_extension_imports_nothing_heavy_says_nothing_and_grade_still_works(tmp_path):
    """The template's first cell, in a kernel as JupyterLab starts it: no Keras, no nbformat, not a
    line of output (TensorFlow's CUDA warnings included). Then the answer, its model.summary()
    before any `%grade`, is checked in full: the summary was recorded from Keras's import on."""
    with lab_kernel(tmp_path) as kernel:
        run(kernel, "import sys\nbefore = set(sys.modules)")
        assert run(kernel, LOAD) == []
        loaded = printed(run(kernel, "print(sorted({name.split('.')[0] for name in set(sys.modules) - before}))"))
        assert not set(ast.literal_eval(loaded)) & HEAVY
        for source in KERAS3:
            run(kernel, source)
        shown = [message for message in run(kernel, "%grade --lang en") if message["msg_type"] == "display_data"]
    assert len(shown) == 1
    assert shown[0]["content"]["data"]["text/plain"].splitlines()[:6] == [
        "Self-check (the model in this kernel): 100/100", "✓ 1. First LSTM layer  20/20",
        "✓ 2. Second LSTM layer  20/20", "✓ 3. Last LSTM layer  20/20", "✓ 4. Two Dense layers  20/20",
        "✓ 5. Print each layer's parameters  20/20"]


def test_grade_notebook_shows_what_it_does_in_one_display_that_becomes_the_verdicts(tmp_path):
    """One output, updated in place (display_data, then update_display_data with its display_id):
    each thing the grading does, in order, then the verdicts where it was."""
    write_notebook(tmp_path, KERAS3, name="lab.ipynb")
    with lab_kernel(tmp_path) as kernel:
        run(kernel, LOAD)
        sent = run(kernel, "%grade --notebook lab.ipynb --lang en", timeout=grading_bound())
    assert [message["msg_type"] for message in sent] == ["display_data"] + ["update_display_data"] * (len(sent) - 1)
    assert len({message["content"]["transient"]["display_id"] for message in sent}) == 1
    texts = [message["content"]["data"]["text/plain"] for message in sent]
    doing = [re.sub(r"( \d+/5|…)$", "", shown) for shown in texts[:-1]]
    assert list(dict.fromkeys(doing)) == ["Starting a jailed kernel", "Running the cells", "Checking the steps",
                                          "Putting the results together"]
    counts = [int(found[1]) for shown in texts if (found := re.fullmatch(r"Running the cells (\d)/5", shown))]
    assert counts == sorted(counts) and len(counts) == doing.count("Running the cells")
    assert all("<progress" in message["content"]["data"]["text/html"] for message in sent[:-1])
    assert texts[-1].splitlines()[0] == "Self-check (the saved notebook, graded as grade does): 100/100"


def test_on_the_untouched_template_the_cause_is_the_placeholder_said_once():
    """The template's cells run as they are: the first answer cell holds `model=Sequential()` and
    `<None>`, so it is a SyntaxError and no model exists. `%grade` says why, once, and gives no
    advice to write `model = Sequential()`, which the cell already holds."""
    nb = nbformat.read("exercises/lstm_network/lstm_network.zh.ipynb", 4)
    nb.cells.append(new_code_cell("%grade"))
    plain, page = checks(execute(nb))[0]
    lines = plain.splitlines()
    first = lines[lines.index(next(line for line in lines if line.startswith("✗ 1. "))) + 1].strip()
    assert first == text("note.placeholder", "zh")
    assert "model = Sequential()" not in plain and "model = Sequential()" not in page
    assert text("check.no_model", "zh", name="model") not in plain
