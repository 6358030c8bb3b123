"""Finding each step's code: by our metadata, by content, or not at all."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.spec import load_spec
from grader.steps import map_steps
from tests.notebooks import IMPORTS, KERAS2, KERAS3, make_notebook

SPEC = load_spec()
ROOT = Path(__file__).resolve().parent.parent


def sources(step_map) -> dict[str, str]:
    return {step: step_map.source(step) for step in step_map.chunks}


def test_metadata_maps_each_cell_to_its_step():
    step_map = map_steps(make_notebook(KERAS3), SPEC)
    assert step_map.method == "metadata"
    assert sources(step_map) == {f"step{n}": source for n, source in enumerate(KERAS3, start=1)}
    assert all(step_map.isolated(f"step{n}") for n in range(1, 6))


def test_cells_added_below_a_marked_cell_belong_to_its_step():
    nb = nbformat.read(ROOT / "exercises/lstm_network/lstm_network.zh.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell(KERAS2[0]))  # below step 1's given cell (after the self-check cell)
    step_map = map_steps(nb, SPEC)
    assert step_map.cells("step1") == [3, 4]
    assert step_map.source("step1").endswith(KERAS2[0])


def test_content_maps_one_cell_per_step_without_metadata():
    step_map = map_steps(make_notebook(KERAS2, marked=False), SPEC)
    assert step_map.method == "content"
    assert sources(step_map) == {f"step{n}": source for n, source in enumerate(KERAS2, start=1)}


def test_one_cell_with_every_step_is_split_between_statements():
    step_map = map_steps(make_notebook(["\n".join(KERAS3)], marked=False), SPEC)
    assert step_map.method == "content"
    assert step_map.source("step1") == KERAS3[0]
    assert step_map.source("step4") == KERAS3[3]
    assert step_map.source("step5") == "model.summary()"
    assert not step_map.isolated("step2")


def test_a_cell_that_does_not_parse_stands_in_for_the_missing_step():
    broken = "model.add(LSTM(100, return_sequences=True)"
    step_map = map_steps(make_notebook([KERAS3[0], broken, *KERAS3[2:]], marked=False), SPEC)
    assert step_map.source("step2") == broken
    assert step_map.source("step3") == KERAS3[2]


def test_a_missing_step_shifts_nothing():
    step_map = map_steps(make_notebook([KERAS3[0], KERAS3[2], KERAS3[3], KERAS3[4]], marked=False), SPEC)
    assert "step2" not in step_map.chunks
    assert step_map.source("step3") == KERAS3[2]


def test_wrong_units_still_map_by_position_and_type():
    wrong = [KERAS3[0].replace("LSTM(50", "LSTM(64"), "model.add(LSTM(10))", *KERAS3[2:]]
    step_map = map_steps(make_notebook(wrong, marked=False), SPEC)
    assert step_map.source("step1") == wrong[0]
    assert step_map.source("step2") == "model.add(LSTM(10))"


def test_magics_do_not_stop_the_mapping():
    first = "%matplotlib inline\n" + KERAS3[0]
    step_map = map_steps(make_notebook([first, *KERAS3[1:]], marked=False), SPEC)
    assert step_map.method == "content"
    assert "step1" in step_map.chunks


def test_layers_added_in_a_loop_cannot_be_mapped():
    code = IMPORTS + "for units in (50, 100, 300):\n    model.add(LSTM(units))"
    assert map_steps(make_notebook([code], marked=False), SPEC).method == "none"


def test_one_statement_building_several_steps_cannot_be_mapped():
    code = "model = keras.Sequential([keras.Input((None, 1)), LSTM(50, return_sequences=True), LSTM(100)])"
    assert map_steps(make_notebook([code], marked=False), SPEC).method == "none"


def test_no_model_code_at_all_cannot_be_mapped():
    assert map_steps(make_notebook(["x = 1"], marked=False), SPEC).method == "none"
