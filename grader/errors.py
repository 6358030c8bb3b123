"""What a student reads first about an error their step's code raised: the exception, the line of
theirs that raised it, and what to do. Also: is a placeholder left in the code (in the code, not in
a comment or a string), and is a missing module the grading machine's gap rather than the
student's error."""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from functools import cache
from pathlib import Path

from grader.kernel import COMMON_LIBRARIES
from grader.messages import text
from grader.runs import ErrorInfo

# The line IPython quotes under a cell's frame: "Cell In[3], line 2" then the code, indented.
_CELL_FRAME = re.compile(r"(?:Cell In\s*\[\d*\]|Input In\s*\[\d*\]|File <ipython-input[^>]*>), line (\d+)[^\n]*\n(.*)")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_UNDEFINED = re.compile(r"name '(\w+)' is not defined")
# A method called on a class instead of on an object made from it: `model = Sequential`, then `model.add(...)`.
_UNBOUND_CALL = re.compile(r"missing \d+ required positional argument")
_CLASS_BOUND = re.compile(r"^[ \t]*(\w+)[ \t]*=[ \t]*((?:\w+\.)*(\w*(?:Sequential|Model)))[ \t]*(?:#.*)?$",
                          re.MULTILINE)
# A layer's size that Keras cannot use as a whole number, though it reads like one: '100' or 100.0.
_SIZE_LIKE_A_NUMBER = re.compile(r"expected a positive integer\. Received: \w+=\d+(?:\.0*)?$")
_TEXT_AGAINST_NUMBER = re.compile(r"not supported between instances of '(?:str' and '(?:int|float)|(?:int|float)' and 'str)'")
_LAYER_CALL = re.compile(r"\b[A-Z]\w*\(")
_SEVERAL_OUTPUTS = "should have a single output tensor"  # tf-keras's Sequential.add, for return_state=True


_FIXES = Path(__file__).with_name("fixes.toml")  # old spellings and the message with the modern one


@cache
def _old_spellings() -> dict[str, str]:
    return tomllib.loads(_FIXES.read_text(encoding="utf-8"))


def has_placeholder(code: str, placeholder: str) -> bool:
    """Does `placeholder` (e.g. `<None>`) stand in the code itself? Comments and strings, such as
    the template's instruction comment, do not count. Code that does not tokenize (the placeholder
    makes it invalid) is read up to where tokenizing stops, and comment lines are skipped there too."""
    if placeholder not in code:
        return False
    pieces: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type not in (tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE,
                                  tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                pieces.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        code_lines = [line.split("#", 1)[0] for line in code.splitlines()]
        return any(placeholder in line for line in code_lines)
    return placeholder.replace(" ", "") in "".join(pieces)


# IPython compiles a whole cell before it runs any of it: these errors stop a cell before its first line.
NOT_COMPILED = ("SyntaxError", "IndentationError", "TabError")


def ran_nothing(error: str | None, placeholder: bool) -> bool:
    """Did a failed step's code run none of its lines: a placeholder left in it, or `error` (its
    `ename` or `ename: evalue`) one that stops a cell before it runs? Its failed checks (no model,
    a layer missing) then only restate that cause."""
    return placeholder or (error or "").split(":", 1)[0] in NOT_COMPILED


def error_line(error: ErrorInfo) -> str | None:
    """The student's line that raised: the last of their frames IPython quotes."""
    found = _CELL_FRAME.findall(error.traceback or "")
    return found[-1][1].strip() or None if found else None


def machine_gap(error: ErrorInfo | None) -> str | None:
    """The module the grading machine lacks, when the error is only that."""
    if error is None or error.ename not in ("ModuleNotFoundError", "ImportError"):
        return None
    missing = _MISSING_MODULE.search(error.evalue)
    root = missing.group(1).split(".")[0] if missing else None
    return root if root in COMMON_LIBRARIES else None


def undefined_name(error: ErrorInfo) -> str | None:
    found = _UNDEFINED.search(error.evalue) if error.ename == "NameError" else None
    return found.group(1) if found else None


def error_sentence(error: ErrorInfo, code: str, lang: str) -> str:
    """`Your code raised NameError at `model.fit(X_train)`: name 'X_train' is not defined. <what to do>`"""
    value = error.evalue.splitlines()[0][:160] if error.evalue else ""
    value = value[:-1] if value.endswith(".") and not value.endswith("..") else value  # the sentence ends it
    line = error_line(error)
    where = text("error.at_line", lang, line=line[:120]) if line else ""
    sentence = text("error.raised", lang, ename=error.ename, where=where, evalue=value)
    cause = _class_not_called(error, code, line or "", lang)
    sentence = f"{cause} {sentence}" if cause else sentence  # the line that made the mistake comes first
    fix = _fix(error, code, line or "", lang)
    return f"{sentence} {fix}" if fix else sentence


def _class_not_called(error: ErrorInfo, code: str, line: str, lang: str) -> str | None:
    """`model = Sequential` (no parentheses) makes the next `model.add(...)` raise: the sentence
    that names the line that made the mistake, when the failing line calls a method of a name the
    step's code bound to a class."""
    if error.ename != "TypeError" or not _UNBOUND_CALL.search(error.evalue):
        return None
    for match in _CLASS_BOUND.finditer(code):
        variable, call, name = match.groups()
        if re.search(rf"\b{re.escape(variable)}\.\w+\(", line):
            return text("error.class_not_called", lang, line=match.group().strip(), variable=variable, name=name,
                        call=call)
    return None


def _fix(error: ErrorInfo, code: str, line: str, lang: str) -> str:
    said = f"{error.ename}: {error.evalue}\n{line}"
    for needle, key in _old_spellings().items():
        if needle in said or (needle in code and error.ename in ("TypeError", "ImportError", "ModuleNotFoundError",
                                                                  "AttributeError", "NameError")):
            return text(f"fix.{key}", lang)
    if error.ename == "SyntaxError" and re.search(r"^\s*print\s+[^(\s]", code, re.MULTILINE):
        return text("fix.print", lang)
    if _SIZE_LIKE_A_NUMBER.search(error.evalue.splitlines()[0] if error.evalue else ""):
        return text("fix.size_text", lang)
    if error.ename == "TypeError" and _TEXT_AGAINST_NUMBER.search(error.evalue) and _LAYER_CALL.search(line):
        return text("fix.text_size", lang)
    if _SEVERAL_OUTPUTS in error.evalue and "return_state" in code:
        return text("fix.return_state", lang)
    gap = machine_gap(error)
    if gap:
        return text("fix.machine_gap", lang, module=gap)
    undefined = _UNDEFINED.search(error.evalue) if error.ename == "NameError" else None
    if undefined:
        return text("fix.undefined", lang, name=undefined.group(1))
    if error.ename in ("ModuleNotFoundError", "ImportError"):
        return text("fix.import", lang)
    return ""
