"""The public names of each package are the ones meant, and each resolves."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "memory": {
        "EmbeddingError",
        "Granularity",
        "Hyperedge",
        "HypermnesiaError",
        "InvalidInputError",
        "InvalidNamespaceError",
        "LLMError",
        "LLMOutputError",
        "LLMTimeoutError",
        "MemoryUnit",
        "Namespace",
        "SearchHit",
        "Settings",
        "StoreCorruptError",
        "StoreUnavailableError",
        "Turn",
        "UnitFilter",
        "UnitKind",
        "UnitNotFoundError",
        "Vertex",
        "VertexKind",
        "make_unit",
    },
    "agents": {
        "RECIPES",
        "ROUTE_ACTIONS",
        "HandSetPolicy",
        "Policy",
        "RouteAction",
        "Candidate",
        "Decision",
        "Evidence",
        "Mode",
        "ReadState",
        "RecallResult",
        "Recipe",
        "RememberResult",
        "RunContext",
        "Thresholds",
        "Verdict",
        "WriteDecision",
        "WriteState",
        "constructor",
        "get_recipe",
        "judge_read",
        "judge_write",
        "reflector",
        "refresh_read",
        "refresh_write",
        "retriever",
    },
    "graphs": {
        "Hypermnesia",
        "RecallResult",
        "RememberResult",
        "Evidence",
        "WriteDecision",
        "RunContext",
    },
}


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_public_names(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == EXPECTED[package]
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_no_class_shadows_a_builtin() -> None:
    import builtins

    errors = importlib.import_module("memory.errors")
    assert not set(errors.__all__) & set(dir(builtins))
