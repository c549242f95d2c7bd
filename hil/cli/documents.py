"""The JSON documents ``--json`` prints for commands whose objects have no ``to_dict`` of their
own: a fleet due item, a bench check. Plain dicts of JSON types (dates as ISO text)."""

from __future__ import annotations

from typing import Any


def due_document(item: Any) -> dict[str, Any]:
    """A ``DueItem`` for ``--json``: its task, status, what drives it and when last done."""

    def line(due: Any) -> dict[str, Any]:
        return {
            "counter": due.counter,
            "due": due.due,
            "current": due.current,
            "left": due.left,
            "status": due.status,
            "text": due.describe(),
        }

    return {
        "card": item.card_number,
        "title": item.task.title,
        "status": item.status,
        "driven_by": line(item.driver) if item.driver is not None else None,
        "lines": [line(due) for due in item.lines],
        "last_done": (
            {"utc": item.last.utc, "run_id": item.last.run_id} if item.last is not None else None
        ),
    }


def bench_check_document(config: Any, result: Any) -> dict[str, Any]:
    """What ``hil bench check --json`` prints: the ``CheckResult`` of bench ``config``."""
    from hil.drivers.can import STATS_COLUMNS

    return {
        "bench": config.name,
        "description": config.description,
        "config_path": str(config.path),
        "ok": result.ok,
        "devices": [
            dict(zip(("role", "backend", "driver", "link"), row, strict=True))
            for row in result.devices
        ],
        "ping_s": result.ping_s,
        "fc_status": result.fc_status,
        "fc_counts": result.fc_counts,
        "bit": None
        if result.bit is None
        else {"passed": result.bit.passed, "items": dict(result.bit.items)},
        "can": [dict(zip(STATS_COLUMNS, row, strict=True)) for row in result.can_rows],
        "device_links": [
            {"device": device, "counter": counter, "value": value}
            for device, counter, value in result.serial_rows
        ],
        "problems": result.problems,
    }
