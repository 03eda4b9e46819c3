"""The frames text the digest stores for stack frame search (spyglass.digest.frames)."""

from __future__ import annotations

from typing import Any

from spyglass.digest.frames import search_frames
from spyglass.events.frames import MAX_VALUE_LENGTH, MAX_VALUES, SEP


def entries(event: dict[str, Any]) -> list[str]:
    text = search_frames(event)
    assert text == "" or (text.startswith(SEP) and text.endswith(SEP))
    return text.strip(SEP).split(SEP) if text else []


def exception(*frames: Any, **fields: Any) -> dict[str, Any]:
    return {"exception": {"values": [{"stacktrace": {"frames": list(frames)}, **fields}]}}


def test_it_keeps_each_fields_distinct_values_in_order() -> None:
    event = exception(
        {"filename": "b.py", "function": "f", "module": "b"},
        {"filename": "a.py", "function": "f", "abs_path": "/srv/a.py", "package": "p"},
    )
    assert entries(event) == ["1a.py", "1b.py", "2/srv/a.py", "3f", "4b", "5p"]


def test_it_reads_threads_and_the_events_own_stack_but_not_raw_frames() -> None:
    event = {
        "exception": {
            "values": [
                {
                    "stacktrace": {"frames": [{"function": "symbolicated"}]},
                    "raw_stacktrace": {"frames": [{"function": "a1b2"}]},
                }
            ]
        },
        "threads": {"values": [{"stacktrace": {"frames": [{"function": "worker"}]}}]},
        "stacktrace": {"frames": [{"function": "attached"}]},
    }
    assert entries(event) == ["3attached", "3symbolicated", "3worker"]


def test_odd_frames_and_values_are_skipped_or_cleaned() -> None:
    event = exception(
        None,
        "frame",
        {"function": 3, "module": ""},
        {"function": f"a{SEP}b\x00c", "filename": "x" * 1000},
    )
    assert entries(event) == ["1" + "x" * MAX_VALUE_LENGTH, "3a bc"]
    assert entries(exception({"function": f"a{SEP}b"}, {"module": "m\x00"})) == ["3a b", "4m"]
    assert entries(exception({"function": "y" * 300})) == ["3" + "y" * MAX_VALUE_LENGTH]
    assert search_frames({"exception": {"values": "oops"}, "threads": None}) == ""
    assert search_frames({"exception": [{"stacktrace": {"frames": [{"function": "go"}]}}]})


def test_values_per_field_are_capped() -> None:
    event = exception(*({"function": f"f{n:04}"} for n in range(500)))
    assert entries(event) == [f"3f{n:04}" for n in range(MAX_VALUES)]


def threads(*values: dict[str, Any], thread_id: Any = None) -> dict[str, Any]:
    event = exception({"function": "f"}, thread_id=thread_id)
    event["threads"] = {"values": list(values)}
    return event


def test_the_main_thread_is_the_exceptions_thread_else_the_crashed_else_the_current() -> None:
    main, worker = {"id": 1, "main": True}, {"id": "2", "main": False}
    assert entries(threads(main, worker, thread_id=2))[0] == "0false"
    assert entries(threads(main, worker, thread_id="1"))[0] == "0true"
    crashed = {**worker, "crashed": True}
    assert entries(threads(main, crashed))[0] == "0false"
    assert entries(threads({**main, "current": True}, worker))[0] == "0true"
    assert entries(threads(main, worker)) == ["3f"]  # no thread to tell
    assert entries(threads({"id": 1, "crashed": True})) == ["3f"]  # no main flag
