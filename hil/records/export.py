"""Exports of one run: the full record as JSON (re-verifiable), and a printable HTML as-run card
showing each value with its limits and each signature as printed name, UTC time and meaning."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from hil.records.errors import StorageError
from hil.records.state import RunState
from hil.records.store import RecordStore
from hil.records.verify import VerifyReport, verify

EXPORT_FORMAT = "hil.records.export/1"


def _write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise StorageError(f"export {path}: cannot write ({err.strerror})") from err
    return path


def export_json(
    store: RecordStore,
    run_id: str,
    path: str | os.PathLike[str],
    report: VerifyReport | None = None,
) -> Path:
    """Write the run, its verification result and every event (with hashes) as JSON."""
    info = store.run(run_id)
    report = report or verify(store, info.run_id)
    data = {
        "format": EXPORT_FORMAT,
        "run": info.to_dict(),
        "verify": report.to_dict(),
        "events": [event.to_dict() for event in store.events(info.run_id)],
    }
    return _write(Path(path), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _limits(a: dict[str, Any]) -> str:
    if a.get("kind") != "measurement":
        return ""
    unit = f" {a['unit']}" if a.get("unit") else ""
    low, high = a.get("low"), a.get("high")
    if low is not None and high is not None:
        return f"{low:g} .. {high:g}{unit}"
    if low is not None:
        return f">= {low:g}{unit}"
    if high is not None:
        return f"<= {high:g}{unit}"
    return "(no limits)"


def _result(a: dict[str, Any]) -> str:
    kind = a.get("kind")
    if kind == "measurement" and a.get("value") is not None:
        unit = f" {a['unit']}" if a.get("unit") else ""
        return f"{a.get('name') or ''} = {a['value']:.6g}{unit}".strip(" =")
    if kind == "prompt" and a.get("answer") is not None:
        return f"answer: {a['answer']}"
    if kind == "inspection" and a.get("passed") is not None:
        text = "satisfactory" if a["passed"] else "unsatisfactory"
        return text + (f": {a['comment']}" if a.get("comment") else "")
    return str(a.get("error") or "")


_CSS = """
body { font-family: sans-serif; font-size: 10pt; margin: 1.5cm; }
h1 { font-size: 14pt; margin-bottom: 0; } h2 { font-size: 11pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; margin-top: .4em; }
th, td { border: 1px solid #555; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #e6e6e6; } .fail { color: #a00; font-weight: bold; }
.ok { color: #060; font-weight: bold; } .mono { font-family: monospace; font-size: 8pt; }
.note { font-style: italic; } @media print { body { margin: 0; } }
"""


def export_html(
    store: RecordStore,
    run_id: str,
    path: str | os.PathLike[str],
    report: VerifyReport | None = None,
) -> Path:
    """Write a printable as-run card for the run."""
    info = store.run(run_id)
    events = store.events(info.run_id)
    report = report or verify(store, info.run_id)
    state = RunState.from_events(info.run_id, events)
    card = state.meta.get("card") or {}
    e = html.escape
    corrections: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for seq, payload in state.corrections:
        corrections.setdefault(int(payload.get("supersedes_seq", 0)), []).append((seq, payload))
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(info.card_number)} as-run {e(info.run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(info.card_number)} rev {e(info.revision)}: {e(info.title)}</h1>",
        "<table>",
        f"<tr><th>Run</th><td class='mono'>{e(info.run_id)}</td>"
        f"<th>Lander</th><td>{e(info.lander)}</td></tr>",
        f"<tr><th>Operator</th><td>{e(info.operator_id)}</td>"
        f"<th>Status</th><td>{e(info.status)} {e(info.outcome or '')}</td></tr>",
        f"<tr><th>Started (UTC)</th><td>{e(str(state.meta.get('started_utc', info.created_utc)))}"
        f"</td><th>Finished (UTC)</th><td>{e(str(info.finished_utc or ''))}</td></tr>",
        f"<tr><th>Card content SHA-256</th><td class='mono' colspan='3'>"
        f"{e(str(card.get('content_sha256', '')))}</td></tr>",
        "</table>",
        "<h2>Steps</h2><table><tr><th>Step</th><th>Attempt</th><th>Kind</th><th>Text</th>"
        "<th>Result</th><th>Limits</th><th>Outcome</th><th>RII</th><th>Finished (UTC)</th></tr>",
    ]
    attempt_events = [ev for ev in events if ev.kind == "attempt"]
    for event in attempt_events:
        a = event.payload
        outcome = str(a.get("outcome", ""))
        css = "ok" if outcome in ("PASS", "MARGINAL") else "fail"
        out.append(
            f"<tr><td>{a.get('step')}</td><td>{a.get('attempt')}</td><td>{e(str(a.get('kind')))}"
            f"</td><td>{e(str(a.get('text', '')))}</td><td>{e(_result(a))}</td>"
            f"<td>{e(_limits(a))}</td><td class='{css}'>{e(outcome)}</td>"
            f"<td>{'RII' if a.get('rii') else ''}</td>"
            f"<td>{e(str(a.get('finished_utc') or ''))}</td></tr>"
        )
        for seq, fix in corrections.get(event.seq, []):
            out.append(
                f"<tr><td></td><td colspan='8' class='note'>Corrected by {e(fix['printed_name'])}"
                f" at {e(fix['signed_utc'])} (event {seq}): {e(json.dumps(fix['changes']))}"
                f"; reason: {e(fix['reason'])}</td></tr>"
            )
    out.append("</table>")
    if state.teardown is not None:
        out.append(f"<p>Teardown: {e(str(state.teardown.get('outcome')))}</p>")
    if state.interrupted is not None:
        out.append(f"<p class='fail'>Interrupted: {e(str(state.interrupted.get('reason')))}</p>")
    if state.redlines:
        out.append(
            "<h2>Redlines</h2><table><tr><th>Step</th><th>Change</th><th>Reason</th>"
            "<th>Major</th><th>By</th><th>UTC</th></tr>"
        )
        for _, r in state.redlines:
            out.append(
                f"<tr><td>{r.get('step')}</td><td>{e(str(r.get('change')))}</td>"
                f"<td>{e(str(r.get('reason')))}</td><td>{'yes' if r.get('major') else 'no'}</td>"
                f"<td>{e(str(r.get('printed_name')))}</td><td>{e(str(r.get('signed_utc')))}</td>"
                "</tr>"
            )
        out.append("</table>")
    out.append(
        "<h2>Signatures</h2><table><tr><th>Printed name</th><th>Meaning</th><th>Covers</th>"
        "<th>UTC time</th><th>Role / certificate</th><th>Record hash signed</th></tr>"
    )
    for s in state.signatures:
        covers = "whole card" if s.on_card else "steps " + ", ".join(map(str, s.steps))
        out.append(
            f"<tr><td>{e(s.printed_name)}</td><td>{e(s.meaning)}</td><td>{e(covers)}</td>"
            f"<td>{e(s.signed_utc)}</td><td>{e(str(s.payload.get('role')))} / "
            f"{e(str(s.payload.get('certificate')))}</td>"
            f"<td class='mono'>{e(str(s.payload.get('covers_hash', ''))[:16])}</td></tr>"
        )
    if not state.signatures:
        out.append("<tr><td colspan='6'>none</td></tr>")
    out.append("</table>")
    outstanding = state.outstanding_rii()
    if outstanding:
        out.append(
            "<p class='fail'>RII steps awaiting inspection: "
            + ", ".join(map(str, outstanding))
            + "</p>"
        )
    if state.attachments:
        out.append(
            "<h2>Attachments</h2><table><tr><th>Name</th><th>Bytes</th><th>SHA-256</th></tr>"
        )
        for _, item in state.attachments:
            out.append(
                f"<tr><td>{e(str(item.get('name')))}</td><td>{item.get('size')}</td>"
                f"<td class='mono'>{e(str(item.get('sha256')))}</td></tr>"
            )
        out.append("</table>")
    verdict = "ok" if report.ok else "fail"
    out.append(
        f"<h2>Record integrity</h2><p class='{verdict}'>{e(report.describe())}</p>"
        f"<p class='mono'>{len(events)} events; head hash {e(info.head_hash)}</p></body></html>"
    )
    return _write(Path(path), "\n".join(out) + "\n")
