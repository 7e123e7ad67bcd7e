"""dispatch: an event goes to the handler of its name; an unexpected one is an error."""

from __future__ import annotations

from typing import Any

import pytest

from zone.jobs.events import EventHandler, UnknownEvent, dispatch


def recording(calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, EventHandler]:
    return {
        name: lambda job_id, event, name=name: calls.append((name, job_id, event))
        for name in ("started", "progress", "result")
    }


def test_each_event_goes_to_the_handler_of_its_name() -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    handlers = recording(calls)
    dispatch(handlers, "j1", {"event": "progress", "epoch": 2})
    dispatch(handlers, "j2", {"event": "started"})
    assert calls == [
        ("progress", "j1", {"event": "progress", "epoch": 2}),
        ("started", "j2", {"event": "started"}),
    ]


@pytest.mark.parametrize(
    ("event", "shown"), [({"event": "exited"}, "'exited'"), ({}, "None"), ({"event": 3}, "3")]
)
def test_an_event_without_a_handler_raises_and_calls_nothing(
    event: dict[str, Any], shown: str
) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    with pytest.raises(UnknownEvent) as raised:
        dispatch(recording(calls), "j1", event)
    assert str(raised.value) == (
        f"job j1: no handler for event {shown} (known: progress, result, started)"
    )
    assert calls == []
