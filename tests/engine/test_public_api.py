"""The engine's public surface is what ``__all__`` says, kept sorted."""

from __future__ import annotations

import vidgate.engine as engine


def test_all_is_sorted_and_complete() -> None:
    assert engine.__all__ == sorted(engine.__all__)
    assert set(engine.__all__) == {
        "EngineError",
        "RenderCancelled",
        "RenderRequest",
        "RenderResult",
        "SourceMediaError",
        "optimize_prompt",
        "render",
    }
    for name in engine.__all__:
        assert getattr(engine, name) is not None


def test_error_tree_has_one_root() -> None:
    assert issubclass(engine.SourceMediaError, engine.EngineError)
    assert issubclass(engine.SourceMediaError, ValueError)
    assert issubclass(engine.RenderCancelled, engine.EngineError)
    assert not issubclass(engine.RenderCancelled, ValueError)
