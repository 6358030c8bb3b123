"""`grade review OUT`: the review web page. Its routes and security rules on a class built from
results (fast, Starlette's TestClient), then end to end: a class graded for real, the command
started as the instructor starts it, a real Chromium reviewing through it."""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from grader import cli
from grader.checks import judge_layers
from grader.gradebook import Entry, Gradebook, sha256
from grader.messages import text
from grader.results import GradeResult, StepResult
from grader.review import final_rows, override_history, refresh_outputs, review_queue
from grader.review_web import FORM_BYTES, Keys, Site, review_app
from grader.spec import load_spec
from tests.browser import chromium
from tests.class_corpus import INJECTED_ID, NO_SEQUENCES
from tests.layers import layer
from tests.notebooks import KERAS3, write_notebook
from tests.notebooks import replace as replace_step
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec("lstm_network")
PORT = 8765  # the TestClient's server needs no socket; any port names its origin and cookie
SCRIPT = "<script>document.title='pwned'</script>"
LENIENT_NOTE = text("note.keras2_only", "en")  # code only Keras 2 runs: a lenient policy, for review
STOP_BOUND = 120.0  # seconds a stopped server may take to end: a hang guard, not a measure


# --- a class built from results ----------------------------------------------------------------------

def result(units: int = 50, status: str = "graded", notes: tuple[str, ...] = (), code: str = "") -> GradeResult:
    """A graded notebook, its first LSTM layer of `units` units (50 is right), every other step right."""
    steps = []
    for step in SPEC.steps:
        checks = judge_layers(step.layers, [layer("LSTM", units, 1, return_sequences=True, declared=(None, None, 1))],
                              0, 1, "en") if step is SPEC.steps[0] else []
        passed = all(check.passed for check in checks)
        steps.append(StepResult(step.id, step.title["en"], step.points if passed else 0, step.points, passed, checks,
                                "notebook", code=code))
    return GradeResult(notebook="lab.ipynb", exercise=SPEC.id, exercise_title=SPEC.title["en"],
                       score=sum(step.score for step in steps), max_score=100, keras="3.15.1", status=status,
                       steps=steps, lang="en", notes=list(notes))


CLASS = {  # student -> result; each student's notebook is STUDENT/lab.ipynb
    "alice": result(),
    "bob": result(64, code=f"model.add(LSTM(64))  # {SCRIPT}"),
    "carol": result(notes=(LENIENT_NOTE,)),
    "dave": result(32),
    INJECTED_ID: result(status="tampered"),
}
NAMES = {"alice": "alice", "bob": "bob", "carol": "carol", "dave": "dave",
         INJECTED_ID: "img_src_x_onerror_document.title_pwned"}  # each one's output name


@pytest.fixture
def out(tmp_path) -> Path:
    """OUT of a class as a run leaves it: gradebook, reports, results, grades.csv, dashboard."""
    folder = tmp_path / "out"
    folder.mkdir()
    book = Gradebook(folder / "gradebook.sqlite")
    for student, graded in CLASS.items():
        book.record(Entry(f"{student}/lab.ipynb", student, False, sha256(student.encode()), "spec", "test", graded))
    for student in CLASS:
        refresh_outputs(book, folder, student)
    book.close()
    return folder


def site_of(out: Path, by: str = "Ms Li", port: int = PORT) -> Site:
    return Site(out, Gradebook(out / "gradebook.sqlite"), by, port)


def client(site: Site) -> TestClient:
    return TestClient(review_app(site), base_url=f"http://127.0.0.1:{site.port}", follow_redirects=False)


def logged_in(site: Site) -> TestClient:
    browser = client(site)
    assert browser.get(f"/?token={site.keys.token}").status_code == 303
    return browser


def origin(site: Site) -> dict[str, str]:
    return {"origin": f"http://127.0.0.1:{site.port}"}


def csrf(browser: TestClient, name: str = "bob") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', browser.get(f"/student/{name}").text).group(1)


def post(browser: TestClient, site: Site, path: str, **fields: str):
    name = path.split("/")[2]
    return browser.post(path, data={"csrf": csrf(browser, name), **fields}, headers=origin(site))


def error_line(page: str) -> str:
    return html.unescape(re.search(r'id="rv-error">([^<]*)<', page).group(1))


def written(out: Path) -> tuple[list[tuple], dict[str, bytes]]:
    """Every row of every table and every output file: what 'nothing written' compares."""
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        names = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = [*db.execute("SELECT * FROM sqlite_master ORDER BY name"),
                *((name, *row) for name in names for row in db.execute(f"SELECT * FROM {name} ORDER BY rowid"))]
    files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*"))
             if path.is_file() and path.suffix in (".csv", ".html", ".json")}
    return rows, files


def grades(out: Path) -> dict[str, dict]:
    return {row["file"]: row for row in csv.DictReader((out / "grades.csv").read_text(encoding="utf-8-sig").splitlines())}


def listed(page: str) -> list[str]:
    """The students of the page's filtered list, in order."""
    table = page.split('id="rv-list"', 1)[1].split("</table>", 1)[0]
    return [html.unescape(name) for name in re.findall(r'<td data-label="Student"><a href="/student/[^"]*">([^<]*)</a></td>', table)]


# --- who may ask -------------------------------------------------------------------------------------

def test_without_the_token_every_request_is_refused(out):
    site = site_of(out)
    stranger = client(site)
    for path in ("/", "/index.zh.html", "/student/bob", "/reports/bob.html", "/favicon.ico"):
        assert stranger.get(path).status_code == 403, path
    wrong = stranger.get("/?token=" + Keys().token)
    assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    for cookie in ("forged.0000", site_of(out).keys.new_session()):  # another server's session is none here
        forger = client(site)
        forger.cookies.set(site.cookie, cookie)
        assert forger.get("/").status_code == 403
    assert stranger.post("/student/bob/comment", data={"text": "x"}, headers=origin(site)).status_code == 403


def test_the_token_opens_a_session_kept_in_a_strict_httponly_cookie_named_after_the_port(out):
    site = site_of(out)
    browser = client(site)
    opened = browser.get(f"/student/bob?token={site.keys.token}&failed=step1")
    assert opened.status_code == 303 and opened.headers["location"] == "/student/bob?failed=step1"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"grade_review_{PORT}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert browser.get("/student/bob?failed=step1").status_code == 200
    assert site_of(out, port=PORT + 1).cookie != site.cookie  # a host's cookies are shared by its ports
    off = client(site).get(f"http://127.0.0.1:{PORT}//evil.example/?token={site.keys.token}")
    assert off.headers["location"] == "/evil.example/"  # never //evil.example/: a redirect off this server


def test_only_a_local_host_name_is_answered(out):
    site = site_of(out)
    browser = logged_in(site)
    assert browser.get("/", headers={"host": f"localhost:{PORT}"}).status_code == 200
    for host in (f"evil.example:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT + 1}"):  # DNS rebinding, another port
        assert browser.get("/", headers={"host": host}).status_code == 403, host


def test_every_answer_has_the_security_headers(out):
    site = site_of(out)
    browser = logged_in(site)
    for answer in (browser.get("/"), browser.get("/student/bob"), client(site).get("/"), browser.get("/student/nobody")):
        policy = answer.headers["content-security-policy"]
        assert policy.startswith("default-src 'self'; ") and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


def _hash(value: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(value.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("path", ["/", "/index.zh.html", "/student/bob", f"/student/{NAMES[INJECTED_ID]}"])
def test_each_inline_style_and_script_is_the_templates_own_allowed_by_its_hash(out, path):
    page = logged_in(site_of(out)).get(path)
    assert page.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    blocks = re.findall(r"<(style|script)>(.*?)</\1>", page.text, re.DOTALL)
    assert blocks and all(_hash(block) in policy[f"{tag}-src"].split() for tag, block in blocks)
    for style in re.findall(r'style="([^"]*)"', page.text):
        assert _hash(html.unescape(style)) in policy["style-src"].split() and "'unsafe-hashes'" in policy["style-src"]
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", page.text)  # no handler attribute: nothing a hash allows


def test_notebook_text_is_escaped_everywhere(out):
    browser = logged_in(site_of(out))
    for path in ("/", "/student/bob", f"/student/{NAMES[INJECTED_ID]}"):
        page = browser.get(path).text
        assert SCRIPT not in page and INJECTED_ID not in page
    assert str(escape(SCRIPT)) in browser.get("/student/bob").text
    assert str(escape(INJECTED_ID)) in browser.get("/").text


# --- forged changes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["no csrf", "wrong csrf", "another session's csrf", "foreign origin", "null origin",
                                  "foreign referer", "no origin or referer"])
def test_a_forged_change_is_refused_and_writes_nothing(out, case):
    site = site_of(out)
    browser, other = logged_in(site), logged_in(site)
    token = csrf(browser)
    form = {"csrf": token, "text": "forged"}
    headers = origin(site)
    if case == "no csrf":
        del form["csrf"]
    elif case == "wrong csrf":
        form["csrf"] = "0" * len(token)
    elif case == "another session's csrf":
        form["csrf"] = csrf(other)
    elif case == "foreign origin":
        headers = {"origin": "http://evil.example"}
    elif case == "null origin":
        headers = {"origin": "null"}
    elif case == "foreign referer":
        headers = {"referer": "http://evil.example/student/bob"}
    else:
        headers = {}
    before = written(out)
    answer = browser.post("/student/bob/comment", data=form, headers=headers)
    assert answer.status_code == 403
    assert written(out) == before
    # the same form, its own token and origin: taken (so the refusal was the forgery's)
    assert browser.post("/student/bob/comment", data={**form, "csrf": token}, headers=origin(site)).status_code == 303


def test_a_referer_of_this_page_stands_for_a_missing_origin(out):
    site = site_of(out)
    browser = logged_in(site)
    answer = browser.post("/student/bob/comment", data={"csrf": csrf(browser), "text": "fine"},
                          headers={"referer": f"http://localhost:{PORT}/student/bob"})
    assert answer.status_code == 303


def test_a_form_too_large_is_refused_unread(out):
    site = site_of(out)
    browser = logged_in(site)
    before = written(out)
    answer = browser.post("/student/bob/comment", data={"csrf": csrf(browser), "text": "x" * FORM_BYTES},
                          headers=origin(site))
    assert answer.status_code == 413 and written(out) == before


# --- changes -----------------------------------------------------------------------------------------

def test_an_override_a_comment_and_mark_reviewed_each_write_the_outputs_again(out):
    site = site_of(out)
    browser = logged_in(site)
    report = (out / "reports" / "bob.html").read_text()
    done = post(browser, site, "/student/bob/override?failed=step1", step="1", points="15", reason="64 units work too")
    assert done.status_code == 303 and done.headers["location"] == "/student/bob?failed=step1&saved=override"
    assert (grades(out)["bob/lab.ipynb"]["score"], grades(out)["bob/lab.ipynb"]["grader_score"]) == ("95", "80")
    assert "64 units work too" not in report and "64 units work too" in (out / "reports" / "bob.html").read_text()
    shown = browser.get(done.headers["location"]).text
    assert 'id="rv-saved"' in shown and 'id="rv-final">95<' in shown and "64 units work too" in shown

    assert post(browser, site, "/student/bob/comment", text="Well argued <b>answer</b>").status_code == 303
    assert "Well argued &lt;b&gt;answer&lt;/b&gt;" in (out / "reports" / "bob.html").read_text()

    cleared = post(browser, site, "/student/bob/override", step="step1", reason="on second thought", do="clear")
    assert cleared.status_code == 303 and grades(out)["bob/lab.ipynb"]["score"] == "80"
    assert [(entry.points, entry.by) for entry in override_history(site.book, "bob")] == [(15, "Ms Li"), (None, "Ms Li")]

    assert len(review_queue(site.book)) == 2
    assert post(browser, site, "/student/carol/reviewed").status_code == 303
    assert [item.student for item in review_queue(site.book)] == [INJECTED_ID]
    assert "Review queue: 1 open" in browser.get("/").text


@pytest.mark.parametrize("fields, said", [
    ({"step": "1", "points": "21", "reason": "x"}, "step1 of bob is worth 0 to 20 points, not 21"),
    ({"step": "step1", "points": "-1", "reason": "x"}, "step1 of bob is worth 0 to 20 points, not -1"),
    ({"step": "1", "points": "ten", "reason": "x"}, "points 'ten': a whole number of points"),
    ({"step": "1", "points": "10", "reason": "  "}, "the reason is empty: say why"),
    ({"step": "9", "points": "10", "reason": "x"}, "bob has no step '9'; the steps are 1 (step1), 2 (step2), "
                                                   "3 (step3), 4 (step4), 5 (step5)"),
    ({"step": "1", "reason": "x", "do": "clear"}, "step1 of bob has no override to clear"),
])
def test_bad_input_is_the_one_line_on_the_page_400_and_nothing_written(out, fields, said):
    site = site_of(out)
    browser = logged_in(site)
    before = written(out)
    answer = post(browser, site, "/student/bob/override", **fields)
    assert (answer.status_code, error_line(answer.text)) == (400, said)
    typed = re.search(r'<form[^>]*/override[^>]*>(?:(?!</form>).)*value="x"', answer.text, re.DOTALL)
    assert (typed is not None) == (fields["step"] != "9" and fields["reason"] == "x")  # what was typed is kept
    assert written(out) == before


def test_bad_input_elsewhere_is_400_too(out):
    site = site_of(out)
    browser = logged_in(site)
    before = written(out)
    for path, fields, said in [
        ("/student/bob/comment", {"text": ""}, "the comment is empty"),
        ("/student/alice/reviewed", {}, "alice has no open item in the review queue"),
        ("/student/nobody/comment", {"text": "hi", "csrf": csrf(browser)}, "nobody: no such student or file in the gradebook"),
    ]:
        answer = browser.post(path, data={"csrf": csrf(browser), **fields}, headers=origin(site))
        assert (answer.status_code, error_line(answer.text)) == (400, said), path
    assert written(out) == before
    assert browser.get("/student/nobody").status_code == 404
    assert browser.get("/index.fr.html").status_code == 404


def test_two_servers_on_one_out_lose_nothing(out):
    """Two reviewers, each on a server of their own, changing at the same moment."""
    first, second = site_of(out, "Ms Li"), site_of(out, "Mr Wang", PORT + 1)
    browsers = [(logged_in(first), first), (logged_in(second), second)]
    tokens = [csrf(browser) for browser, _ in browsers]
    answers: list[int] = []

    def review(index: int) -> None:
        browser, site = browsers[index]
        for number in range(1, 6):
            done = browser.post("/student/bob/override", data={"csrf": tokens[index], "step": str(number),
                                                               "points": str(index + number), "reason": site.by},
                                headers=origin(site))
            answers.append(done.status_code)
            answers.append(browser.post("/student/carol/comment", data={"csrf": tokens[index], "text": f"{site.by} {number}"},
                                        headers=origin(site)).status_code)

    threads = [threading.Thread(target=review, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303] * 20
    history = override_history(first.book, "bob")
    assert sorted((entry.by, entry.step) for entry in history) == sorted(
        (who, f"step{number}") for who in ("Ms Li", "Mr Wang") for number in range(1, 6))
    comments = next(final for final in final_rows(first.book) if final.row.student == "carol").comments
    assert sorted(comment.text for comment in comments) == sorted(f"{who} {n}" for who in ("Ms Li", "Mr Wang") for n in range(1, 6))
    # the outputs hold the last change: the final points of the gradebook
    final = next(final for final in final_rows(first.book) if final.row.student == "bob")
    row = grades(out)["bob/lab.ipynb"]
    assert [int(row[f"step{number}"]) for number in range(1, 6)] == [final.step_points[f"step{n}"] for n in range(1, 6)]


# --- the list ----------------------------------------------------------------------------------------

def test_the_queue_is_on_top_of_the_dashboard(out):
    page = logged_in(site_of(out)).get("/").text
    queue = page.split('id="rv-queue"', 1)[1].split("</table>", 1)[0]
    assert [html.unescape(kind) for kind in re.findall(r'class="rv-kind"[^>]*>([^<]*)<', queue)] == ["tampered", "lenient_policy"]
    assert page.index('id="rv-queue"') < page.index('id="distribution"')  # the dashboard follows
    assert f'href="/student/{NAMES[INJECTED_ID]}"' in queue and 'href="/student/carol"' in queue


@pytest.mark.parametrize("query, students", [
    ("", [INJECTED_ID, "alice", "bob", "carol", "dave"]),  # by id: "<" sorts first
    ("?failed=step1", ["bob", "dave"]),
    ("?failed=step2", []),
    ("?mistake=step1:0", ["bob", "dave"]),  # units: expected 50, got 64 / 32: one cause
    ("?status=open", [INJECTED_ID, "carol"]),
    ("?status=tampered", [INJECTED_ID]),
    ("?failed=step1&status=graded", ["bob", "dave"]),
])
def test_filters_by_failed_step_mistake_and_status(out, query, students):
    assert listed(logged_in(site_of(out)).get("/" + query).text) == students


def test_previous_and_next_walk_the_filtered_list(out):
    site = site_of(out)
    browser = logged_in(site)

    def neighbours(path: str) -> tuple[str | None, str | None]:
        page = browser.get(path).text
        found = [re.search(rf'href="([^"]*)" rel="{rel}"', page) for rel in ("prev", "next")]
        return tuple(html.unescape(match.group(1)) if match else None for match in found)

    assert neighbours("/student/bob") == ("/student/alice", "/student/carol")
    assert neighbours("/student/bob?failed=step1") == (None, "/student/dave?failed=step1")
    assert neighbours(f"/student/{NAMES[INJECTED_ID]}?status=open") == (None, "/student/carol?status=open")
    assert neighbours("/student/alice?status=open") == (f"/student/{NAMES[INJECTED_ID]}?status=open",
                                                        "/student/carol?status=open")
    post(browser, site, f"/student/{NAMES[INJECTED_ID]}/reviewed?status=open")  # it leaves the list; next leads on
    assert neighbours(f"/student/{NAMES[INJECTED_ID]}?status=open") == (None, "/student/carol?status=open")
    assert browser.get("/reports/bob.html").headers["location"] == "/student/bob"  # the dashboard's links


def test_a_change_made_by_the_command_line_shows_on_the_page(out, capsys):
    browser = logged_in(site_of(out))
    assert cli.main(["override", str(out), "dave", "1", "20", "--reason", "fine", "--by", "Mr Wang"]) == 0
    page = browser.get("/student/dave").text
    assert 'id="rv-final">100<' in page and "Mr Wang" in page


# --- the command -------------------------------------------------------------------------------------

def test_a_folder_without_a_gradebook_is_one_line_exit_2(tmp_path, capsys):
    assert cli.main(["review", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"grade review: {tmp_path}: no gradebook there (gradebook.sqlite); grade the class into it first\n"
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_line_exit_2(out, capsys):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["review", str(out), "--port", str(port)]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"grade review: cannot listen on 127.0.0.1:{port}: ") and said.count("\n") == 1
    with pytest.raises(SystemExit) as exited:
        cli.main(["review", str(out), "--port", "70000"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "grade review: argument --port: '70000': a port number, 0 to 65535 (0: a free one)\n"


# --- end to end: a class graded for real, the command, a real browser --------------------------------

FAST = ["-j", "2", "--timeout", "30", "--lang", "en"]
BOB = [KERAS3[0].replace(", return_sequences=True", "") + f"\n# {SCRIPT}", *NO_SEQUENCES[1:]]


WITH_DROPOUT = replace_step(KERAS3, 2, KERAS3[1] + "\nmodel.add(Dropout(0.2))")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """OUT of a real run: alice right, bob's first layer without return_sequences (and a script in
    a comment), a student whose id is markup with a Dropout between the LSTM layers (a lenient
    policy, Q1: the queue)."""
    root = tmp_path_factory.mktemp("review-web")
    for student, sources in {"alice": KERAS3, "bob": BOB, INJECTED_ID: WITH_DROPOUT}.items():
        (root / "class" / student).mkdir(parents=True)
        write_notebook(root / "class" / student, sources, name="lab.ipynb")
    args = [str(root / "class"), "-o", str(root / "out"), *FAST]
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(args))
    assert done.returncode == 0, done.stderr
    return root / "out"


@dataclass
class Server:
    process: subprocess.Popen
    url: str  # as printed, with its token

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        said, _ = self.process.communicate(timeout=STOP_BOUND)
        return self.process.returncode, said


@pytest.fixture
def serve(graded, tmp_path) -> Iterator:
    out = shutil.copytree(graded, tmp_path / "out")
    started: list[Server] = []

    def start(by: str) -> Server:
        process = subprocess.Popen([sys.executable, "-m", "grader", "review", str(out), "--port", "0", "--by", by],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = process.stdout.readline()  # ends when the server prints its address, or ends
        found = re.fullmatch(rf"grade review: {re.escape(str(out))} at (http://127\.0\.0\.1:\d+/\?token=[\w-]{{43}})\n", line)
        assert found, line + process.stdout.read()
        assert process.stdout.readline() == "grade review: open that address in your browser; Ctrl-C stops\n"
        started.append(Server(process, found.group(1)))
        return started[-1]

    yield out, start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_review_in_a_real_browser(serve):
    out, start = serve
    server = start("Ms Li")
    injected = f"{INJECTED_ID}/lab.ipynb"
    report = out / "reports" / f"{NAMES[INJECTED_ID]}.html"
    before_report, before_grades = report.read_text(), grades(out)
    assert before_grades[injected]["score"] == "100"
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
        page.on("dialog", lambda dialog: (refused.append(dialog.message), dialog.dismiss()))
        page.goto(server.url)
        assert page.url == server.base + "/"  # the token is gone from the address
        assert page.text_content("#rv-queue-heading") == "Review queue: 1 open"
        assert page.text_content("#rv-queue tbody tr").count(INJECTED_ID) == 2  # id and file, as text
        page.click("#rv-queue a")
        assert page.text_content("#rv-student") == INJECTED_ID
        page.fill("#rv-step2 input[name=points]", "10")
        page.fill("#rv-step2 input[name=reason]", "the second layer is copied from the slides")
        page.click("#rv-step2 button[value=set]")
        assert page.text_content("#rv-final") == "90" and page.is_visible("#rv-saved")
        page.fill(".rv-comment textarea", "See me after class <b>please</b>")
        page.click(".rv-comment button")
        page.click("#rv-mark")
        assert page.text_content("#rv-items") == "Nothing of this notebook waits for a review."
        assert "the second layer is copied from the slides" in page.text_content("#rv-history")
        page.click("#rv-all")
        assert page.text_content("#rv-queue-heading") == "Review queue: 0 open"
        page.fill("#filter", "alice")  # the dashboard's own script runs: its hash is allowed
        assert page.locator("#students-table tbody tr:visible").count() == 1

        # the notebook's markup is text: bob's script in his code, the injected id everywhere
        page.goto(server.base + "/student/bob")
        assert SCRIPT in page.text_content("#step1 pre code")
        assert page.title() != "pwned" and page.evaluate("document.querySelectorAll('script').length") == 0
        for width in (390,):  # the whole page fits a phone; wide tables scroll in their own box
            page.set_viewport_size({"width": width, "height": 800})
            for path in ("/", "/student/bob"):
                page.goto(server.base + path)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        assert refused == []

        # security in the browser: no token, a wrong one, a forged form
        stranger = browser.new_page()
        assert stranger.goto(server.base + "/").status == 403
        assert stranger.goto(server.base + "/?token=" + Keys().token).status == 403
        assert stranger.goto(server.base + "/student/bob").status == 403
        token = page.get_attribute("input[name=csrf]", "value")
        before = written(out)
        for fields, headers in [({"text": "forged"}, {"origin": server.base}),
                                ({"text": "forged", "csrf": "0" * len(token)}, {"origin": server.base}),
                                ({"text": "forged", "csrf": token}, {"origin": "http://evil.example"})]:
            assert context.request.post(server.base + "/student/bob/comment", form=fields, headers=headers).status == 403
        # a page of another site posting a form with the right token: the strict cookie is not sent
        attacker = context.new_page()
        attacker.set_content(f'<form method="post" action="{server.base}/student/bob/comment">'
                             f'<input name="csrf" value="{token}"><input name="text" value="forged"></form>')
        with attacker.expect_navigation():
            attacker.eval_on_selector("form", "form => form.submit()")
        assert "403" in attacker.content()
        assert written(out) == before
        # the reviewer's own request, the cookie the context holds: taken
        assert context.request.post(server.base + "/student/bob/comment", form={"text": "ok", "csrf": token},
                                    headers={"origin": server.base}, max_redirects=0).status == 303

    after = grades(out)[injected]
    assert (after["score"], after["step2"], after["grader_score"]) == ("90", "10", "100")
    changed = report.read_text()
    assert changed != before_report and "the second layer is copied from the slides" in changed
    assert "See me after class &lt;b&gt;please&lt;/b&gt;" in changed
    assert review_queue(Gradebook(out / "gradebook.sqlite")) == []
    assert server.stop() == (0, "grade review: stopped\n")  # Ctrl-C: a clean stop, nothing else said


def test_two_reviewers_in_two_browsers_on_two_servers(serve):
    out, start = serve
    first, second = start("Ms Li"), start("Mr Wang")
    with chromium() as browser:
        pages = []
        for server in (first, second):
            page = browser.new_context().new_page()
            page.goto(server.url)
            page.goto(server.base + "/student/bob")
            pages.append(page)
        for page, step, points in ((pages[0], "step2", "15"), (pages[1], "step3", "5")):
            page.fill(f"#rv-{step} input[name=points]", points)
            page.fill(f"#rv-{step} input[name=reason]", f"{step} by hand")
            page.click(f"#rv-{step} button[value=set]")
        pages[0].reload()
        assert "Mr Wang" in pages[0].text_content("#rv-history") and "Ms Li" in pages[0].text_content("#rv-history")
    history = override_history(Gradebook(out / "gradebook.sqlite"), "bob")
    assert [(entry.step, entry.points, entry.by) for entry in history] == [("step2", 15, "Ms Li"), ("step3", 5, "Mr Wang")]
    assert (grades(out)["bob/lab.ipynb"]["step2"], grades(out)["bob/lab.ipynb"]["step3"]) == ("15", "5")
    for server in (first, second):
        assert server.stop() == (0, "grade review: stopped\n")
