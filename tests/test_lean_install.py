"""`pip install .` alone, without the `course` extra (pandas, scikit-learn, scipy, matplotlib):
grading must not depend on any optional library. A fresh venv, the package installed as a user
would, both reference answers graded at full marks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.messages import text

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "lstm_network"


@pytest.fixture(scope="module")
def lean() -> Path:
    # Where the jail's user may reach the interpreter (pytest's own temporary folders are 0700).
    folder = Path(tempfile.mkdtemp(prefix="lean-install-", dir="/tmp"))
    folder.chmod(0o755)
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT)], check=True, capture_output=True)
    yield venv
    shutil.rmtree(folder, ignore_errors=True)


def test_the_lean_install_lacks_the_course_libraries(lean):
    missing = subprocess.run([str(lean / "bin" / "python"), "-c", "import sklearn"], capture_output=True, text=True)
    assert "No module named 'sklearn'" in missing.stderr


@pytest.mark.parametrize("answer, keras, notes", [("reference_keras2", "2.", [text("note.keras2", "en")]),
                                                  ("idiomatic_keras3", "3.", [])])
def test_a_lean_install_grades_both_reference_answers_at_full_marks(lean, tmp_path, answer, keras, notes):
    notebook = tmp_path / f"{answer}.ipynb"
    notebook.write_bytes((SOLUTIONS / f"{answer}.ipynb").read_bytes())
    done = subprocess.run([str(lean / "bin" / "grade"), str(notebook), "--json", "-", "--lang", "en"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["status"], result["score"], result["notes"]) == ("graded", 100, notes)
    assert result["keras"].startswith(keras)
