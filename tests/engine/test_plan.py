"""The run graph built from a spec: nodes in file order, edges from needs, and the layered layout."""

from __future__ import annotations

from workflows.engine.dag import layers

from .conftest import plan_of


def test_it_connects_each_task_to_what_it_needs() -> None:
    plan = plan_of("""
        name: w
        tasks:
          load: {run: "true", needs: [extract, clean]}
          extract: {run: "true"}
          clean: {run: "true", needs: [extract]}
    """)

    assert sorted(plan.graph.edges) == [("clean", "load"), ("extract", "clean"), ("extract", "load")]
    assert plan.upstream("load") == ["extract", "clean"]
    assert plan.descendants({"clean"}) == {"clean", "load"}


def test_it_keeps_the_files_order_where_needs_allow() -> None:
    plan = plan_of("""
        name: w
        tasks:
          b: {run: "true"}
          a: {run: "true"}
          c: {run: "true", needs: [d]}
          d: {run: "true"}
    """)

    assert list(plan.nodes) == ["b", "a", "d", "c"]


def test_it_lays_out_tasks_in_layers_keeping_edges_short() -> None:
    plan = plan_of("""
        name: w
        tasks:
          a: {run: "true"}
          b: {run: "true"}
          from_b: {run: "true", needs: [b]}
          from_a: {run: "true", needs: [a]}
          both: {run: "true", needs: [from_a, from_b]}
    """)

    assert layers(plan) == [["a", "b"], ["from_a", "from_b"], ["both"]]
