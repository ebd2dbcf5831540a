"""Parsing workflow files: both task forms, YAML and JSON, defaults, aliases and parameters."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml

from workflows.engine.spec import Retry, TaskSpec, WorkflowInvalid, WorkflowSpec, parse_workflow

from .conftest import spec_of

MAPPING_YAML = """\
name: etl_pipeline
max_parallel: 2
tags: {team: data}
cost: {provider: aws, region: us-east-1, instance_type: m5.large}
gates: {code: {block_on: high}, secrets: {block: true}}
tasks:
  extract:
    run: python extract.py
    timeout: 600
    retry: {max_attempts: 3, initial_delay: 1, backoff: 2, max_delay: 60}
  transform:
    run: "python transform.py --format ${{ matrix.format }}"
    needs: [extract]
    matrix: {format: [csv, json, parquet]}
  load:
    run: python load.py
    needs: ["transform[*]"]
    skip_if: "extract.outputs.rows == 0"
    secrets: {DB_PASSWORD: "prod-vault:database/prod#password"}
  notify:
    run: ./notify.sh
    needs: [load]
    run_always: true
"""

SEED_YAML = """\
name: etl_pipeline
max_parallel: 2
tasks:
  - id: extract
    script: extract.py
    env: {MODE: full}
    metadata:
      timeout: 600
      priority: 5
      retry_policy:
        max_attempts: 3
        initial_delay: 0.5
        max_delay: 30
        backoff_multiplier: 3
        retry_on_exit_codes: [75, 1]
  - id: transform
    script: transform.sh
    depends_on: [extract]
    skip_if: "extract.outputs.rows == 0"
    matrix: {format: [csv, json]}
"""


def summary(spec: WorkflowSpec) -> dict[str, Any]:
    """What a workflow means, without where it was written."""
    return {
        "name": spec.name,
        "max_parallel": spec.max_parallel,
        "tags": spec.tags,
        "cost": spec.cost,
        "gates": spec.gates,
        "tasks": {
            task.id: {k: v for k, v in vars(task).items() if k not in ("line", "lines")} for task in spec.tasks.values()
        },
    }


def parse_yaml_plain(text: str) -> Any:
    """The file's data as plain values, to write the same workflow in JSON."""
    return yaml.safe_load(textwrap.dedent(text))


def test_it_parses_the_mapping_form() -> None:
    spec = parse_workflow(MAPPING_YAML, "etl.yaml")

    assert list(spec.tasks) == ["extract", "transform", "load", "notify"]
    extract, transform, load, notify = spec.tasks.values()
    assert extract.run == "python extract.py" and extract.timeout == 600
    assert extract.retry == Retry(max_attempts=3, initial_delay=1, backoff=2, max_delay=60)
    assert transform.needs == ["extract"]
    assert transform.matrix is not None and transform.matrix.axes == {"format": ["csv", "json", "parquet"]}
    assert load.needs == ["transform[*]"] and load.skip_if == "extract.outputs.rows == 0"
    assert load.secrets == {"DB_PASSWORD": "prod-vault:database/prod#password"}
    assert notify.run_always is True and load.run_always is False
    assert spec.max_parallel == 2 and spec.tags == {"team": "data"}
    assert spec.cost["instance_type"] == "m5.large" and spec.gates["code"] == {"block_on": "high"}
    assert spec.format == "yaml"


def test_it_parses_the_same_workflow_written_in_json() -> None:
    from_yaml = parse_workflow(MAPPING_YAML, "etl.yaml")
    as_json = json.dumps(parse_yaml_plain(MAPPING_YAML), indent=2)

    from_json = parse_workflow(as_json, "etl.json")

    assert from_json.format == "json"
    assert summary(from_json) == summary(from_yaml)


def test_it_parses_the_seed_list_form() -> None:
    spec = parse_workflow(SEED_YAML, "seed.yaml")

    extract, transform = spec.tasks.values()
    assert extract.id == "extract" and extract.run == ["python", "extract.py"]
    assert extract.env == {"MODE": "full"}
    assert extract.timeout == 600 and extract.priority == 5
    assert extract.retry == Retry(
        max_attempts=3, initial_delay=0.5, backoff=3, max_delay=30, retry_on_exit_codes=frozenset({1, 75})
    )
    assert transform.run == ["/bin/sh", "transform.sh"]
    assert transform.needs == ["extract"] and transform.skip_if == "extract.outputs.rows == 0"
    assert transform.matrix is not None and transform.matrix.axes == {"format": ["csv", "json"]}


def test_it_parses_the_seed_list_form_written_in_json() -> None:
    as_json = json.dumps(parse_yaml_plain(SEED_YAML), indent=2)

    spec = parse_workflow(as_json, "seed.json")

    assert summary(spec) == summary(parse_workflow(SEED_YAML, "seed.yaml"))


def test_it_reads_json_without_a_file_name() -> None:
    spec = parse_workflow('{"name": "w", "tasks": {"a": {"run": "true"}}}')

    assert spec.format == "json" and spec.tasks["a"].run == "true"


def test_it_fills_in_defaults() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: "true"}
    """)

    assert (spec.max_parallel, spec.max_legs, spec.timeout, spec.params, spec.env) == (4, 256, None, {}, {})
    assert spec.tasks["a"] == TaskSpec(id="a", run="true", line=4, lines={"run": 4})
    assert spec.tasks["a"].retry == Retry(max_attempts=1, initial_delay=1.0, backoff=2.0, max_delay=60.0)


def test_it_remembers_the_line_of_each_task() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a:
            run: "true"
          b:
            run: "true"
            needs: [a]
    """)

    assert (spec.tasks["a"].line, spec.tasks["b"].line) == (4, 6)
    assert spec.tasks["b"].line_of("needs") == 8


def test_it_accepts_a_task_written_as_a_bare_command() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: echo hello
    """)

    assert spec.tasks["a"].run == "echo hello"


def test_it_accepts_a_run_given_as_an_argument_list() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: [python, -c, "print(1)", 3]}
    """)

    assert spec.tasks["a"].run == ["python", "-c", "print(1)", "3"]


def test_it_accepts_needs_as_a_single_name() -> None:
    spec = spec_of("""
        name: w
        tasks:
          extract: {run: "true"}
          load: {run: "true", needs: extract}
    """)

    assert spec.tasks["load"].needs == ["extract"]


@pytest.mark.parametrize("key", ["cwd", "working_directory"])
def test_it_accepts_cwd_as_an_alias_of_working_directory(key: str) -> None:
    spec = spec_of(f"""
        name: w
        tasks:
          a: {{run: "true", {key}: data/in}}
    """)

    assert spec.tasks["a"].working_directory == "data/in"


def test_it_refuses_both_cwd_and_working_directory() -> None:
    with pytest.raises(WorkflowInvalid) as info:
        spec_of("""
            name: w
            tasks:
              a: {run: "true", cwd: x, working_directory: y}
        """)

    assert [(e.line, e.field) for e in info.value.errors] == [(4, "tasks.a.cwd")]


def test_it_reads_backoff_multiplier_as_backoff() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: "true", retry: {max_attempts: 2, backoff_multiplier: 4}}
    """)

    assert spec.tasks["a"].retry.backoff == 4


def test_it_refuses_both_backoff_and_backoff_multiplier() -> None:
    with pytest.raises(WorkflowInvalid) as info:
        spec_of("""
            name: w
            tasks:
              a: {run: "true", retry: {backoff: 2, backoff_multiplier: 4}}
        """)

    assert info.value.errors[0].field == "tasks.a.retry.backoff_multiplier"


def test_it_reads_retry_given_as_a_number_of_attempts() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: "true", retry: 4}
    """)

    assert spec.tasks["a"].retry.max_attempts == 4


def test_it_reads_jitter_and_a_single_retry_exit_code() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: "true", retry: {max_attempts: 2, jitter: 0.25, retry_on_exit_codes: 75}}
    """)

    assert spec.tasks["a"].retry.jitter == 0.25
    assert spec.tasks["a"].retry.retry_on_exit_codes == frozenset({75})


@pytest.mark.parametrize(
    ("script", "args", "command"),
    [
        ("extract.py", [], ["python", "extract.py"]),
        ("scripts/load.sh", ["--fast"], ["/bin/sh", "scripts/load.sh", "--fast"]),
        ("./bin/notify", [], ["./bin/notify"]),
        ("./bin/notify", ["ops", "--loud"], ["./bin/notify", "ops", "--loud"]),
        ("echo hello there", [], "echo hello there"),
    ],
)
def test_it_turns_a_seed_script_into_a_command(script: str, args: list[str], command: Any) -> None:
    spec = parse_workflow(json.dumps({"name": "w", "tasks": [{"id": "a", "script": script, "args": args}]}))

    assert spec.tasks["a"].run == command


def test_it_refuses_run_and_script_together() -> None:
    with pytest.raises(WorkflowInvalid) as info:
        spec_of("""
            name: w
            tasks:
              a: {run: "true", script: x.py}
        """)

    assert info.value.errors[0].field == "tasks.a.script"


def test_it_reads_yaml_1_2_booleans_only() -> None:
    spec = spec_of("""
        name: w
        env: {ANSWER: yes, SWITCH: on, FLAG: true}
        tasks:
          a:
            run: "true"
            run_always: true
            matrix: {country: [se, no, dk], mode: [on, off]}
    """)

    assert spec.tasks["a"].matrix is not None
    assert spec.tasks["a"].matrix.axes == {"country": ["se", "no", "dk"], "mode": ["on", "off"]}
    assert spec.env == {"ANSWER": "yes", "SWITCH": "on", "FLAG": "true"}
    assert spec.tasks["a"].run_always is True


def test_it_turns_env_numbers_and_booleans_into_text() -> None:
    spec = spec_of("""
        name: w
        tasks:
          a: {run: "true", env: {COUNT: 3, RATIO: 0.5, DEBUG: false, EMPTY: null}}
    """)

    assert spec.tasks["a"].env == {"COUNT": "3", "RATIO": "0.5", "DEBUG": "false", "EMPTY": ""}


def test_it_reads_params_with_defaults_and_choices() -> None:
    spec = spec_of("""
        name: w
        params:
          limit: 10
          mode: {default: fast, choices: [fast, slow], description: How hard to try, required: true}
        tasks:
          a: {run: "echo ${{ params.limit }}", skip_if: "params.mode == 'slow'"}
    """)

    limit, mode = spec.params["limit"], spec.params["mode"]
    assert (limit.name, limit.default, limit.required, limit.choices) == ("limit", 10, False, None)
    assert (mode.default, mode.choices, mode.description, mode.required) == (
        "fast",
        ["fast", "slow"],
        "How hard to try",
        True,
    )


def test_it_reads_the_run_level_settings() -> None:
    spec = spec_of("""
        name: w
        description: Nightly load
        timeout: 3600
        max_legs: 10
        working_directory: jobs
        schedule: "0 3 * * *"
        env: {STAGE: prod}
        tasks:
          a: {run: "true"}
    """)

    assert (spec.description, spec.timeout, spec.max_legs) == ("Nightly load", 3600, 10)
    assert (spec.working_directory, spec.schedule, spec.env) == ("jobs", "0 3 * * *", {"STAGE": "prod"})


def test_it_reports_every_error_in_one_pass() -> None:
    with pytest.raises(WorkflowInvalid) as info:
        spec_of("""
            name: w
            max_parallel: 0
            tasks:
              a: {run: "true", timeout: soon}
              b: {run: "true", colour: red}
        """)

    assert [(e.line, e.field) for e in info.value.errors] == [
        (3, "max_parallel"),
        (5, "tasks.a.timeout"),
        (6, "tasks.b.colour"),
    ]
    assert str(info.value).splitlines()[0] == "line 3: max_parallel: must be at least 1"
