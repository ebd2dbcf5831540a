"""Matrix tasks: expansion into legs (product, exclude, include, cap), leg names, fan-in and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.engine.dag import matrix_legs
from workflows.engine.spec import Matrix, WorkflowInvalid

from .conftest import execute, plan_of, spec_of, statuses


def test_it_expands_the_product_of_the_axes_in_order() -> None:
    legs = matrix_legs(Matrix(axes={"version": [10, 12], "os": ["linux", "mac"]}), cap=256)

    assert legs == [
        {"version": 10, "os": "linux"},
        {"version": 10, "os": "mac"},
        {"version": 12, "os": "linux"},
        {"version": 12, "os": "mac"},
    ]


def test_it_excludes_every_leg_a_partial_pattern_matches() -> None:
    matrix = Matrix(axes={"os": ["linux", "mac"], "py": ["3.11", "3.12"]}, exclude=[{"os": "mac"}])

    assert matrix_legs(matrix, cap=256) == [{"os": "linux", "py": "3.11"}, {"os": "linux", "py": "3.12"}]


def test_it_extends_the_legs_an_include_agrees_with() -> None:
    matrix = Matrix(axes={"os": ["linux", "mac"], "py": ["3.11", "3.12"]}, include=[{"os": "mac", "arch": "arm64"}])

    assert matrix_legs(matrix, cap=256) == [
        {"os": "linux", "py": "3.11"},
        {"os": "linux", "py": "3.12"},
        {"os": "mac", "py": "3.11", "arch": "arm64"},
        {"os": "mac", "py": "3.12", "arch": "arm64"},
    ]


def test_it_adds_an_include_that_agrees_with_no_leg_as_a_leg_of_its_own() -> None:
    matrix = Matrix(axes={"os": ["linux"], "py": ["3.11"]}, include=[{"os": "windows", "py": "3.12"}])

    assert matrix_legs(matrix, cap=256) == [{"os": "linux", "py": "3.11"}, {"os": "windows", "py": "3.12"}]


def test_it_expands_githubs_worked_include_example() -> None:
    # The example of GitHub's workflow syntax reference: an include may overwrite a value an
    # earlier include added (pink replaces green on the cat legs), never an original one.
    matrix = Matrix(
        axes={"fruit": ["apple", "pear"], "animal": ["cat", "dog"]},
        include=[
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    )

    assert matrix_legs(matrix, cap=256) == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_it_applies_exclude_before_include() -> None:
    matrix = Matrix(axes={"os": ["linux", "mac"]}, exclude=[{"os": "mac"}], include=[{"os": "mac", "arch": "arm64"}])

    assert matrix_legs(matrix, cap=256) == [{"os": "linux"}, {"os": "mac", "arch": "arm64"}]


def test_it_refuses_more_legs_than_the_cap() -> None:
    matrix = Matrix(axes={"a": [1, 2, 3], "b": [1, 2]})

    with pytest.raises(ValueError, match="expands to 6 legs, more than the cap of 5"):
        matrix_legs(matrix, cap=5)


def test_it_counts_the_cap_after_exclude() -> None:
    matrix = Matrix(axes={"a": [1, 2, 3], "b": [1, 2]}, exclude=[{"a": 3}])

    assert len(matrix_legs(matrix, cap=4)) == 4


def test_it_refuses_an_absurd_product_even_if_excludes_would_trim_it() -> None:
    matrix = Matrix(axes={f"axis{i}": list(range(10)) for i in range(6)}, exclude=[{"axis0": 0}])

    with pytest.raises(ValueError, match="1000000 combinations"):
        matrix_legs(matrix, cap=256)


def test_it_checks_the_cap_when_parsing() -> None:
    with pytest.raises(WorkflowInvalid) as info:
        spec_of("""
            name: w
            max_legs: 2
            tasks:
              t: {run: "true", matrix: {format: [csv, json, xml]}}
        """)

    assert [(e.line, e.field) for e in info.value.errors] == [(5, "tasks.t.matrix")]


def test_it_names_each_leg_after_its_values() -> None:
    plan = plan_of("""
        name: w
        tasks:
          transform: {run: "true", matrix: {format: [csv, json]}}
          build: {run: "true", matrix: {os: [linux], py: ["3.12"], debug: [true]}}
    """)

    assert plan.task_nodes == {
        "transform": ["transform[format=csv]", "transform[format=json]"],
        "build": ["build[os=linux,py=3.12,debug=true]"],
    }
    assert plan.nodes["transform[format=json]"].leg == {"format": "json"}
    assert plan.nodes["transform[format=json]"].leg_key == "format=json"


def test_it_connects_a_fan_in_to_every_leg() -> None:
    plan = plan_of("""
        name: w
        tasks:
          transform: {run: "true", matrix: {format: [csv, json]}}
          load: {run: "true", needs: ["transform[*]"]}
    """)

    assert sorted(plan.upstream("load")) == ["transform[format=csv]", "transform[format=json]"]


def test_it_connects_a_task_that_names_one_leg_to_that_leg_only() -> None:
    plan = plan_of("""
        name: w
        tasks:
          transform: {run: "true", matrix: {format: [csv, json]}}
          publish_csv: {run: "true", needs: ["transform[format=csv]"]}
    """)

    assert plan.upstream("publish_csv") == ["transform[format=csv]"]


def test_it_makes_every_leg_of_a_matrix_task_wait_for_its_needs() -> None:
    plan = plan_of("""
        name: w
        tasks:
          extract: {run: "true"}
          transform: {run: "true", needs: [extract], matrix: {format: [csv, json]}}
    """)

    assert plan.downstream("extract") == ["transform[format=csv]", "transform[format=json]"]


def test_it_gives_each_leg_its_matrix_values(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          transform:
            run: 'echo "${{ matrix.format }} $RUNNER_MATRIX_FORMAT $RUNNER_NODE" > "${{ matrix.format }}.txt"'
            matrix: {format: [csv, json]}
        """,
        tmp_path,
    )

    assert outcome.status == "success"
    assert (tmp_path / "csv.txt").read_text() == "csv csv transform[format=csv]\n"
    assert (tmp_path / "json.txt").read_text() == "json json transform[format=json]\n"


def test_seed_defect_matrix_is_expanded_from_a_yaml_list_form_file(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: seed
        tasks:
          - id: transform
            script: 'touch "$RUNNER_MATRIX_FORMAT.done"'
            matrix: {format: [csv, json, parquet]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {
        "transform[format=csv]": "success",
        "transform[format=json]": "success",
        "transform[format=parquet]": "success",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv.done", "json.done", "parquet.done"]


FAN_IN = """
    name: w
    tasks:
      transform:
        run: 'echo "rows=${{ matrix.rows }}" >> "$RUNNER_OUTPUT"'
        matrix: {format: [csv, json], include: [{format: csv, rows: "12"}, {format: json, rows: "0"}]}
      load:
        run: 'echo ${{ toJSON(tasks.transform.outputs) }} > all.json'
        env: {CSV_ROWS: "${{ tasks.transform.outputs['format=csv,rows=12'].rows }}"}
        needs: ["transform[*]"]
      report:
        run: 'printf %s "$CSV_ROWS" > csv_rows.txt'
        env: {CSV_ROWS: "${{ transform.outputs['format=csv,rows=12'].rows }}"}
        needs: ["transform[*]"]
      skip_when_json_is_empty:
        run: "true"
        skip_if: "transform.outputs['format=json,rows=0'].rows == 0"
        needs: ["transform[*]"]
"""


def test_it_hands_a_fan_in_every_legs_outputs_keyed_by_leg(tmp_path: Path) -> None:
    outcome, _ = execute(FAN_IN, tmp_path)

    assert outcome.status == "success"
    assert json.loads((tmp_path / "all.json").read_text()) == {
        "format=csv,rows=12": {"rows": "12"},
        "format=json,rows=0": {"rows": "0"},
    }
    assert (tmp_path / "csv_rows.txt").read_text() == "12"


def test_it_lets_a_fan_in_condition_read_one_legs_output(tmp_path: Path) -> None:
    outcome, recorder = execute(FAN_IN, tmp_path)

    assert outcome.nodes["skip_when_json_is_empty"].status == "skipped"
    assert recorder.starts("skip_when_json_is_empty") == []


def test_it_runs_a_task_that_needs_one_leg_when_another_leg_fails(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          transform: {run: 'test "${{ matrix.format }}" = csv', matrix: {format: [csv, json]}}
          publish_csv: {run: "true", needs: ["transform[format=csv]"]}
          load: {run: "true", needs: ["transform[*]"]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {
        "transform[format=csv]": "success",
        "transform[format=json]": "failed",
        "publish_csv": "success",
        "load": "upstream_failed",
    }
    assert outcome.nodes["load"].reason == "'transform[format=json]' failed"
