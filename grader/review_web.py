"""`grade review OUT`: the review web page, a local Starlette application served by uvicorn.

`/` is the class dashboard (the very page index.html is) with the review queue, filters and the
list of submissions on top; `/student/NAME` is a submission's report (the very page
reports/NAME.html is) with the review panel on top: an override form per step, a comment box,
"mark reviewed", previous and next. Each change is one gradebook transaction through
grader/review.py, then `refresh_outputs` writes that student's files and the class's again, then a
redirect (POST/redirect/GET). Bad input is the ReviewError's one line on the page, status 400.

Secure by default. Bound to 127.0.0.1 only, and a request must name 127.0.0.1 or localhost as its
Host (DNS rebinding). A random token in the printed URL; once given, a signed session in an
HttpOnly, SameSite=Strict cookie named after the port (a host's cookies are shared by all its
ports). Anything without one of the two is 403. Every other method than GET and HEAD must come
from this origin (Origin, else Referer) and carry the session's CSRF token, checked here before
any route sees the request. Autoescape; the only inline style and script are the templates' own
static blocks, allowed by their hashes in the Content-Security-Policy.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import re
import secrets
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.batch import output_names
from grader.dashboard import class_language, class_view, render_dashboard
from grader.gradebook import Gradebook
from grader.messages import LANGUAGES, escape_controls, text
from grader.options import AUTO, OneLineParser
from grader.report_html import render_html
from grader.results import STATUSES
from grader.review import (OUTPUTS_LOCK, TEXT_CHARS, FinalRow, QueueItem, ReviewError, add_comment, add_override,
                           clear_override, final_rows, mark_reviewed, override_history, refresh_outputs, review_queue)
from grader.review_cli import GRADEBOOK
from grader.submissions import Submission
from grader.templating import render

HOST = "127.0.0.1"  # never another interface: the page changes grades
LOCAL_NAMES = ("127.0.0.1", "localhost")
SAFE_METHODS = ("GET", "HEAD")
FORM_BYTES = 256 * 1024  # a comment of TEXT_CHARS characters, percent-encoded, fits
FORM_FIELDS = 20
FILTER_CHARS = 200
LOCK_FILE = OUTPUTS_LOCK
# The templates whose static <style> and <script> blocks the pages hold, allowed by hash.
INLINE_TEMPLATES = ("report.html.j2", "dashboard.html.j2", "review_style.html.j2")
METER_STYLE = "width: {rate}%"  # the one style attribute of the dashboard (a step's pass-rate bar)
STATUS_OPEN = "open"  # filter: an item of the review queue is open
STATUS_CHANGED = "changed"  # filter: an instructor overrode a step or commented
SAVED = {"override": "Override saved", "clear": "Override cleared: the grader's points count again",
         "comment": "Comment added", "reviewed": "Marked reviewed"}


# --- who may ask -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Keys:
    """The printed URL's token, and the secret that signs sessions and derives their CSRF tokens."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def new_session(self) -> str:
        sid = secrets.token_urlsafe(16)
        return f"{sid}.{self._mac('session', sid)}"

    def session_of(self, cookie: str | None) -> str | None:
        """The session id a cookie carries, when it is one this server signed."""
        sid, _, mac = (cookie or "").partition(".")
        return sid if sid and same(mac, self._mac("session", sid)) else None

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a value from the request (any text) and one of ours."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class Site:
    out: Path
    book: Gradebook
    by: str  # who makes the changes
    port: int
    keys: Keys = field(default_factory=Keys)

    @property
    def cookie(self) -> str:
        return f"grade_review_{self.port}"

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{name}:{self.port}" for name in LOCAL_NAMES)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.keys.token}"


class Guard:
    """Every request: a local Host, then the token (which opens a session) or a session's cookie;
    every change also its origin and its session's CSRF token. Security headers on every answer."""

    def __init__(self, app: ASGIApp, site: Site, policy: str) -> None:
        self.app, self.site, self.policy = app, site, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        request = Request(scope)
        if request.headers.get("host") not in {f"{name}:{self.site.port}" for name in LOCAL_NAMES}:
            await _refuse("this page answers only at 127.0.0.1")(scope, receive, send)
            return
        if "token" in request.query_params:
            await self._log_in(request)(scope, receive, send)
            return
        sid = self.site.keys.session_of(request.cookies.get(self.site.cookie))
        if sid is None:
            await _refuse("open the address `grade review` printed, with its token")(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = sid
        if request.method not in SAFE_METHODS:
            body = await _body(receive)
            refusal = self._refused_change(request, body, sid)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            receive = _replay(body)
        await self.app(scope, receive, send)

    def _log_in(self, request: Request) -> Response:
        if not same(request.query_params["token"], self.site.keys.token):
            return _refuse("wrong token: open the address `grade review` printed")
        query = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "token"])
        path = "/" + request.url.path.lstrip("/")  # never //host: a redirect off this server
        response = RedirectResponse(path + (f"?{query}" if query else ""), status_code=303)
        response.set_cookie(self.site.cookie, self.site.keys.new_session(), httponly=True, samesite="strict", path="/")
        return response

    def _refused_change(self, request: Request, body: bytes | None, sid: str) -> Response | None:
        if not self._same_origin(request):
            return _refuse("a change must come from this page")
        if body is None:
            return _refuse("the form is too large", status=413)
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=FORM_FIELDS)
        except (UnicodeDecodeError, ValueError):
            return _refuse("not a form of this page", status=400)
        if not same((fields.get("csrf") or [""])[0], self.site.keys.csrf(sid)):
            return _refuse("the form's CSRF token is missing or wrong: reload the page")
        return None

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is not None:
            return origin in self.site.origins
        referer = urlsplit(request.headers.get("referer", ""))
        return f"{referer.scheme}://{referer.netloc}" in self.site.origins

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                named = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in named:
                    headers.append((b"content-security-policy", self.policy.encode()))
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in named]
                message = {**message, "headers": headers}
            await send(message)
        return sending


SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # no-referrer would make Chromium send `Origin: null` with this page's own forms, and the
    # origin check could not tell them from a sandboxed foreign frame: same-origin sends nothing
    # to any other site, which is what no-referrer is for.
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def _refuse(why: str, status: int = 403) -> Response:
    return PlainTextResponse(f"{status}: {why}\n", status_code=status)


async def _body(receive: Receive) -> bytes | None:
    """The request's body, or None past FORM_BYTES."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_BYTES:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


# --- Content-Security-Policy -------------------------------------------------------------------------

def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_hashes() -> dict[str, list[str]]:
    """The hash of each static <style> and <script> block of INLINE_TEMPLATES, read from the
    templates themselves, never from a page (which holds a notebook's text)."""
    found: dict[str, list[str]] = {"style": [], "script": []}
    for name in INLINE_TEMPLATES:
        source = (files("grader") / "templates" / name).read_text(encoding="utf-8")
        for tag, block in re.findall(r"<(style|script)>(.*?)</\1>", source, re.DOTALL):
            if "{{" in block or "{%" in block or "{#" in block:
                raise RuntimeError(f"{name}: a <{tag}> block with template code cannot be allowed by its hash")
            found[tag].append(_hash(block))
    return found


def content_policy(hashes: dict[str, list[str]], style_attributes: list[str] = ()) -> str:
    styles = " ".join(hashes["style"])
    attributes = f" 'unsafe-hashes' {' '.join(_hash(style) for style in style_attributes)}" if style_attributes else ""
    return (f"default-src 'self'; script-src {' '.join(hashes['script']) or chr(39) + 'none' + chr(39)}; "
            f"style-src {styles}{attributes}; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'")


# --- what the pages show -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassState:
    """The class as the gradebook holds it now: final rows, the open queue, each file's output name."""

    finals: list[FinalRow]
    queue: list[QueueItem]
    names: dict[str, str]  # file -> name of its report and JSON

    @classmethod
    def read(cls, book: Gradebook) -> ClassState:
        finals = final_rows(book)
        names = output_names([Submission(final.row.student, final.row.file, Path(final.row.file)) for final in finals])
        return cls(finals, review_queue(book), names)

    def named(self, name: str) -> FinalRow | None:
        return next((final for final in self.finals if self.names[final.row.file] == name), None)

    def open_items(self, file: str) -> list[QueueItem]:
        return [item for item in self.queue if item.file == file]


@dataclass(frozen=True)
class Filters:
    failed: str = ""  # a step id: its failed submissions
    mistake: str = ""  # "STEP_ID:N": the Nth root cause of that step on the dashboard
    status: str = ""  # a result's status, STATUS_OPEN or STATUS_CHANGED

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Filters:
        return cls(*(params.get(name, "")[:FILTER_CHARS] for name in ("failed", "mistake", "status")))

    def query(self, **more: str) -> str:
        pairs = [(name, value) for name, value in (("failed", self.failed), ("mistake", self.mistake),
                                                   ("status", self.status), *more.items()) if value]
        return f"?{urlencode(pairs)}" if pairs else ""

    def keeps(self, final: FinalRow, state: ClassState, mistakes: dict[str, Mistake]) -> bool:
        result = final.row.result
        if self.failed and not any(step.id == self.failed and not step.passed for step in result.steps):
            return False
        if self.mistake and final.row.file not in (mistakes[self.mistake].files if self.mistake in mistakes else ()):
            return False
        if self.status == STATUS_OPEN:
            return bool(state.open_items(final.row.file))
        if self.status == STATUS_CHANGED:
            return final.reviewed_by_instructor
        return not self.status or result.status == self.status


@dataclass(frozen=True)
class Mistake:
    label: str
    files: frozenset[str]


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Listed:
    final: FinalRow
    name: str
    failed: list[int]  # numbers of the failed steps
    open_kinds: list[str]


@dataclass(frozen=True)
class Change:
    """One entry of a submission's override history, as the panel shows it."""

    when: str
    by: str
    step: str
    old: int
    new: int | None  # None: cleared
    reason: str
    stale: bool


def _mistakes(view: dict) -> dict[str, Mistake]:
    return {f"{step.id}:{index}": Mistake(f"{number}. {mistake.text} ({mistake.count})",
                                          frozenset(who.file for who in mistake.students))
            for number, step in enumerate(view["steps"], start=1) for index, mistake in enumerate(step.mistakes)}


def _statuses(state: ClassState, lang: str) -> list[Choice]:
    present = {final.row.result.status for final in state.finals}
    return [Choice(STATUS_OPEN, "in the review queue"), Choice(STATUS_CHANGED, "changed by an instructor"),
            *(Choice(status, text(f"report.status_{status}", lang)) for status in STATUSES if status in present)]


def _listed(final: FinalRow, state: ClassState) -> Listed:
    failed = [number for number, step in enumerate(final.row.result.steps, start=1) if not step.passed]
    kinds = [item.kind for item in state.open_items(final.row.file)]
    return Listed(final, state.names[final.row.file], failed, kinds)


def _neighbours(state: ClassState, final: FinalRow, kept: list[FinalRow]) -> tuple[Listed | None, Listed | None]:
    """The previous and next submission of the filtered list, around this one (filtered out or not)."""
    order = {id(row): index for index, row in enumerate(state.finals)}
    here = order[id(final)]
    before = [row for row in kept if order[id(row)] < here]
    after = [row for row in kept if order[id(row)] > here]
    return (_listed(before[-1], state) if before else None, _listed(after[0], state) if after else None)


def _history(book: Gradebook, file: str) -> list[Change]:
    return [Change(time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.at)), entry.by, entry.step, entry.old_points,
                   entry.points, entry.reason, entry.stale) for entry in reversed(override_history(book, file))]


def splice(page: str, head: str, top: str) -> str:
    """`head` at the end of the page's <head>, `top` first in its <body>. Both tags are the
    template's own: nothing from a notebook reaches a page unescaped, so neither can be forged."""
    for tag in ("</head>", "<body>"):
        if page.count(tag) != 1:
            raise RuntimeError(f"the page has {page.count(tag)} {tag} tags, not one")
    page = page.replace("</head>", f"{head}</head>", 1)
    return page.replace("<body>", f"<body>\n{top}", 1)


# --- the application ---------------------------------------------------------------------------------

class ReviewApp:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.writer = OneWriter(site.out)
        self.hashes = inline_hashes()
        self.style = render("review_style.html.j2", "en")
        routes = [
            Route("/", self.dashboard),
            Route("/index.{lang}.html", self.dashboard),
            Route("/reports/{name}.html", self.report_link),
            Route("/student/{name}", self.student),
            Route("/student/{name}/override", self.override, methods=["POST"]),
            Route("/student/{name}/comment", self.comment, methods=["POST"]),
            Route("/student/{name}/reviewed", self.reviewed, methods=["POST"]),
        ]
        self.asgi = Guard(Starlette(routes=routes), site, content_policy(self.hashes))

    # --- pages (read and rendered off the event loop: the gradebook and the templates block)

    async def dashboard(self, request: Request) -> Response:
        lang = request.path_params.get("lang")
        if lang is not None and lang not in LANGUAGES:
            return _refuse("no such page", status=404)
        return await run_in_threadpool(self._dashboard, request, lang)

    def _dashboard(self, request: Request, lang: str | None, error: str = "", status: int = 200) -> Response:
        state = ClassState.read(self.site.book)
        rows = [final.row for final in state.finals]
        lang = lang or class_language(rows, AUTO)
        view = class_view(rows, state.names, lang)
        mistakes = _mistakes(view)
        filters = Filters.of(request.query_params)
        listed = [_listed(final, state) for final in state.finals if filters.keeps(final, state, mistakes)]
        page = render_dashboard(rows, state.names, lang,
                                final={final.row.file: final.final_score for final in state.finals},
                                queue_count=len(state.queue),
                                switch={other: f"/index.{other}.html" for other in LANGUAGES if other != lang})
        panel = render("review_index.html.j2", lang, site=self.site, state=state, filters=filters, listed=listed,
                       steps=[Choice(step.id, f"{number}. {step.title}") for number, step in enumerate(view["steps"], 1)],
                       mistakes=[Choice(key, mistake.label) for key, mistake in mistakes.items()],
                       statuses=_statuses(state, lang), path=request.url.path if request.method in SAFE_METHODS else "/",
                       error=error, saved="", prev=None, next=None)
        rates = sorted({step.rate for step in view["steps"]})
        policy = content_policy(self.hashes, [METER_STYLE.format(rate=rate) for rate in rates])
        return HTMLResponse(splice(page, self.style, panel), status_code=status,
                            headers={"content-security-policy": policy})

    async def report_link(self, request: Request) -> Response:
        """The dashboard links each report as reports/NAME.html: here, the review page of NAME."""
        return RedirectResponse(f"/student/{request.path_params['name']}", status_code=303)

    async def student(self, request: Request) -> Response:
        return await run_in_threadpool(self._student, request)

    def _student(self, request: Request, error: str = "", given: Mapping[str, str] | None = None,
                 status: int = 200) -> Response:
        state = ClassState.read(self.site.book)
        final = state.named(request.path_params["name"])
        if final is None:
            return self._dashboard(request, None, error, status) if error else _refuse("no such student here", status=404)
        view = class_view([row.row for row in state.finals], state.names, final.row.result.lang)
        filters = Filters.of(request.query_params)
        mistakes = _mistakes(view)
        before, after = _neighbours(state, final, [row for row in state.finals if filters.keeps(row, state, mistakes)])
        report = render_html(final.row.result, final if final.reviewed_by_instructor else None)
        name = state.names[final.row.file]
        panel = render("review_student.html.j2", final.row.result.lang, site=self.site, final=final, name=name,
                       filters=filters, items=state.open_items(final.row.file),
                       history=_history(self.site.book, final.row.file),
                       overridden={override.step for override in final.overrides},
                       csrf=self.site.keys.csrf(request.scope["state"]["session"]),
                       saved=SAVED.get(request.query_params.get("saved", ""), ""), error=error,
                       given=given or {}, prev=before, next=after, text_chars=TEXT_CHARS)
        return HTMLResponse(splice(report, self.style, panel), status_code=status)

    # --- changes

    async def override(self, request: Request) -> Response:
        form = await _form(request)
        step, reason = form.get("step", ""), form.get("reason", "")
        if form.get("do") == "clear":
            return await self._change(request, form, "clear", lambda file: clear_override(
                self.site.book, file, step, reason, self.site.by))
        return await self._change(request, form, "override", lambda file: add_override(
            self.site.book, file, step, _points(form.get("points", "")), reason, self.site.by))

    async def comment(self, request: Request) -> Response:
        form = await _form(request)
        return await self._change(request, form, "comment", lambda file: add_comment(
            self.site.book, file, form.get("text", ""), self.site.by))

    async def reviewed(self, request: Request) -> Response:
        form = await _form(request)
        return await self._change(request, form, "reviewed", lambda file: mark_reviewed(self.site.book, file, self.site.by))

    async def _change(self, request: Request, form: Mapping[str, str], saved: str,
                      make: Callable[[str], object]) -> Response:
        """One change of the submission the path names, its outputs written again, then back to its page;
        bad input: the page again with the one line why, status 400, nothing written."""
        name = request.path_params["name"]
        try:
            await run_in_threadpool(self._make, name, make)
        except ReviewError as error:
            return await run_in_threadpool(self._student, request, str(error), form, 400)
        except OSError as error:  # the change is in the gradebook; the next change writes the outputs again
            return _refuse(f"saved in the gradebook, but cannot write {error.filename or self.site.out}: "
                           f"{error.strerror or error}", status=500)
        return RedirectResponse(f"/student/{name}{Filters.of(request.query_params).query(saved=saved)}", status_code=303)

    def _make(self, name: str, make: Callable[[str], object]) -> None:
        with self.writer.held():
            final = ClassState.read(self.site.book).named(name)
            if final is None:
                raise ReviewError(f"{name}: no such student or file in the gradebook")
            make(final.row.file)
            refresh_outputs(self.site.book, self.site.out, final.row.file)


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=FORM_FIELDS, max_part_size=FORM_BYTES)


def _points(given: str) -> int:
    try:
        return int(given.strip())
    except ValueError:
        raise ReviewError(f"points {given!r}: a whole number of points") from None


class OneWriter:
    """One change and its outputs at a time in this server. Across processes (another server, a
    `grade override`), refresh_outputs (grader/review.py) writes the outputs one at a time per OUT,
    each from the gradebook as it is then, so the last written shows the last change."""

    def __init__(self, out: Path) -> None:
        (out / LOCK_FILE).touch()  # OUT not writable: refused before serving
        self._threads = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            yield


def review_app(site: Site) -> ASGIApp:
    return ReviewApp(site).asgi


# --- the command -------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="grade review", description="The review web page of a graded class, on 127.0.0.1.")
    parser.add_argument("out", type=Path, metavar="OUT", help="the folder a class was graded into")
    parser.add_argument("--port", type=_port, default=0, help="the port (default: a free one)")
    parser.add_argument("--by", metavar="NAME", help="who makes the changes (default: your user name)")
    return parser


def _port(given: str) -> int:
    if not given.isdigit() or int(given) > 65535:
        raise argparse.ArgumentTypeError(f"{given!r}: a port number, 0 to 65535 (0: a free one)")
    return int(given)


def review_web_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        book = _gradebook(args.out)
        by = _who(args.by)
        listening = _listen(args.port)
        site = Site(args.out, book, by, listening.getsockname()[1])
        app = review_app(site)
    except (ReviewError, sqlite3.Error) as error:
        print(f"grade review: {escape_controls(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"grade review: cannot write in {escape_controls(args.out)}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"grade review: {escape_controls(site.out)} at {site.url}", flush=True)
    print("grade review: open that address in your browser; Ctrl-C stops", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           server_header=False, lifespan="off"))
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn stops cleanly, then raises the signal it caught again
        pass
    finally:
        listening.close()
        site.book.close()
    print("grade review: stopped", flush=True)
    return 0


def _gradebook(out: Path) -> Gradebook:
    path = out / GRADEBOOK
    if not path.is_file():
        raise ReviewError(f"{out}: no gradebook there ({GRADEBOOK}); grade the class into it first")
    book = Gradebook(path)
    final_rows(book)  # a gradebook this grader reads, or one line now
    return book


def _who(by: str | None) -> str:
    try:
        who = (by if by is not None else getpass.getuser()).strip()
    except OSError:
        raise ReviewError("cannot tell who you are: give --by NAME") from None
    if not who:
        raise ReviewError("--by: give a name")
    return who


def _listen(port: int) -> socket.socket:
    """A socket on 127.0.0.1 (port 0: a free one), bound before the URL is printed."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listening.bind((HOST, port))
        listening.listen(128)
    except OSError as error:
        listening.close()
        raise ReviewError(f"cannot listen on {HOST}:{port}: {error.strerror or error}") from None
    return listening


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
