"""The house rules, read off the import graph: no cycles, and dependencies point one way."""

from __future__ import annotations

from tests.house.importgraph import cycles, imports, modules


def test_the_graph_sees_the_whole_project() -> None:
    graph = imports()
    assert len(graph) > 150 and "certmon.matching.engine" in graph
    assert "certmon.matching.bulk" in graph["certmon.matching.engine"]  # imports are found


def test_no_module_imports_itself_through_others() -> None:
    found = cycles(imports())
    assert not found, "import cycles (give each pair one direction): " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_core_never_imports_the_dashboard_and_adapters_never_import_the_ui() -> None:
    wrong = {module: sorted(t for t in targets if t.split(".")[0] == "dashboards")
             for module, targets in imports().items() if module.split(".")[0] in ("certmon", "feeds", "workers")}
    assert not {m: t for m, t in wrong.items() if t}


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "certmon" in modules()


def test_no_domain_package_imports_the_api_assembly() -> None:
    """certmon.api only assembles routers; web plumbing lives in certmon.web, below the domains."""
    graph = imports()
    wrong = {module: sorted(t for t in targets if t == "certmon.api" or t.startswith("certmon.api."))
             for module, targets in graph.items()
             if not module.startswith(("certmon.api", "certmon.cli")) and module.split(".")[0] in
             ("certmon", "dashboards", "feeds", "workers")}
    assert not {m: t for m, t in wrong.items() if t}, wrong
