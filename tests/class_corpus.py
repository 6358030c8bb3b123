"""A generated class: correct answers, each common mistake, unreadable files and a hanging notebook."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.notebooks import IMPORTS, KERAS2, KERAS3, replace, write_notebook

NO_SEQUENCES = replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", ""))

# (kind, sources or raw bytes, expected step scores)
KINDS = {
    "correct3": (KERAS3, [20, 20, 20, 20, 20]),
    "correct2": (KERAS2, [20, 20, 20, 20, 20]),
    "no_sequences": (NO_SEQUENCES, [0, 20, 20, 20, 20]),
    "units64": (replace(KERAS3, 1, KERAS3[0].replace("LSTM(50", "LSTM(64")), [0, 20, 20, 20, 20]),
    "step2_last_only": (replace(KERAS3, 2, "model.add(LSTM(100))"), [20, 0, 20, 20, 20]),
    "step3_sequences": (replace(KERAS3, 3, "model.add(LSTM(300, return_sequences=True))"), [20, 20, 0, 20, 20]),
    "dense20": (replace(KERAS3, 4, "model.add(Dense(100))\nmodel.add(Dense(20))"), [20, 20, 20, 0, 20]),
    "no_summary": (replace(KERAS3, 5, "print(model)"), [20, 20, 20, 20, 0]),
    "no_input": (replace(KERAS3, 1, IMPORTS + "model.add(LSTM(50, return_sequences=True))"), [0, 20, 20, 20, 20]),
    "syntax": (replace(KERAS3, 2, "model.add(LSTM(100, return_sequences=True)"), [20, 0, 20, 20, 20]),
}
INJECTED_ID = "<img src=x onerror=\"document.title='pwned'\">"
HANG = replace(KERAS3, 4, "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except KeyboardInterrupt:\n        pass")


def make_class(folder: Path, size: int = 40) -> dict[str, list[int]]:
    """Write `size` submissions under `folder` (student folders, loose files and a zip);
    return each student's expected step scores."""
    expected: dict[str, list[int]] = {}
    kinds = list(KINDS)
    students = [f"s{number:02d}" for number in range(size - 5)]
    zipped = []
    for number, student in enumerate(students):
        kind = kinds[number % len(kinds)]
        sources, scores = KINDS[kind]
        if number % 6 == 5:  # some arrive inside an LMS zip
            zipped.append((f"{student}/lab.ipynb", write_notebook(folder, sources, name=f"{student}.tmp")))
        else:
            (folder / student).mkdir(parents=True, exist_ok=True)
            write_notebook(folder / student, sources, name="lab.ipynb")
        expected[student] = scores
    with zipfile.ZipFile(folder / "lms.zip", "w") as archive:
        for name, path in zipped:
            archive.write(path, name)
            path.unlink()
    (folder / "empty.ipynb").write_text("")
    (folder / "broken.ipynb").write_text("{not json")
    write_notebook(folder, HANG, name="hang.ipynb")
    write_notebook(folder, KERAS3, name="王小明.ipynb")
    (folder / INJECTED_ID).mkdir()
    write_notebook(folder / INJECTED_ID, KERAS3, name="lab.ipynb")
    expected.update({"empty": [0] * 5, "broken": [0] * 5, "hang": [20, 20, 20, 0, 0], "王小明": [20] * 5,
                     INJECTED_ID: [20] * 5})
    return expected
