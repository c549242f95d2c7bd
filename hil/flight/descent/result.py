"""What a descent concluded: its findings, the touchdown checks and the verdict.

The run notes *findings* as it flies — the first valid LRF range, the FC rejecting the LRF
for good, LANDED declared, propellant exhausted — each a structured record with its time and
values, and a line in the timeline. The verdict is built from the findings and the checks,
never by reading the timeline's text back; cards measure from the findings too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hil.flight.touchdown import TouchdownCheck


@dataclass
class Contact:
    """Truth at the first 1 ms step on or below the terrain."""

    time_s: float
    vertical_speed_mps: float
    horizontal_speed_mps: float
    tilt_deg: float
    propellant_kg: float
    landing_error_m: float
    speed_mps: float


FIRST_VALID_LRF = "first_valid_lrf"
"""The LRF's first valid range: ``range_m``, ``altitude_m``, ``fc_altitude_m``, ``speed_mps``,
``descent_rate_mps``."""
LRF_REJECTED = "lrf_rejected"
"""The FC rejected the LRF for the rest of the descent: ``altitude_m``, ``fc_altitude_m``."""
LANDED_DECLARED = "landed_declared"
"""The FC declared LANDED: ``altitude_m``, ``fc_altitude_m``, ``altitude_error_m``."""
PROPELLANT_EXHAUSTED = "propellant_exhausted"
"""Truth propellant reached zero: ``altitude_m``, ``fc_altitude_m``."""

FC_DEADLINES_MISSED = "fc_deadlines_missed"
"""The FC's executive reported its first missed deadline: ``missed_deadlines``,
``altitude_m``."""
FC_RESTART = "fc_restart"
"""The FC's watchdog restarted its flight software (low-priority work shed, guidance kept):
``restarts``, ``missed_deadlines``, ``altitude_m``."""
FC_ABORT = "fc_abort"
"""The FC went to ABORT on its own, and why (its FAULT command, asked after the run)."""
FC_OVERLOAD = "fc_overload"
"""What an overload did over the run, from the FC's STATUS: ``missed_deadlines``,
``restarts``, ``first_missed_s``, ``first_restart_s`` (NaN: none)."""

VERDICT_FINDINGS = (
    FIRST_VALID_LRF,
    LRF_REJECTED,
    LANDED_DECLARED,
    PROPELLANT_EXHAUSTED,
    FC_ABORT,
    FC_OVERLOAD,
)
"""The findings a failed run's verdict lists, in the order they happened."""
PASS_FINDINGS = (FC_OVERLOAD,)
"""The findings a passed run's verdict also says (what it flew through)."""


@dataclass(frozen=True)
class Finding:
    """One thing an engineer reads a run by: what, when (s since the run's start), the line
    that says it, and its numbers."""

    kind: str
    time_s: float
    text: str
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass
class DescentResult:
    scenario: str
    seed: int
    mode: str
    stop_reason: str
    verdict: str
    passed: bool
    contact: Contact | None
    checks: list[TouchdownCheck]
    events: list[tuple[float, str]]
    timing: dict[str, Any]
    fc_final_mode: str
    lrf_first_valid_range_m: float | None
    landed_altitude_error_m: float | None
    out_dir: Path | None = None
    files: dict[str, str] = field(default_factory=dict)
    fault_counts: dict[str, int] = field(default_factory=dict)
    """Faults injected and what the FC detected of them (empty without injections)."""
    findings: list[Finding] = field(default_factory=list)
    link_error: str | None = None
    """The port or interface that went away, when a link error ended the run (one line)."""

    def finding(self, kind: str) -> Finding | None:
        """The first finding of ``kind``, or None."""
        return next((item for item in self.findings if item.kind == kind), None)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir) if self.out_dir else None
        return data


def verdict(
    stop_reason: str,
    contact: Contact | None,
    checks: list[TouchdownCheck],
    passed: bool,
    findings: list[Finding],
    truth_altitude_m: float,
) -> str:
    """One line in engineering terms: PASS with the touchdown, or FAIL with why and when."""
    if passed and contact is not None:
        flown_through = [item.text for item in findings if item.kind in PASS_FINDINGS]
        return (
            f"PASS: landed {contact.landing_error_m:.0f} m from the site at "
            f"{abs(contact.vertical_speed_mps):.2f} m/s vertical, "
            f"{contact.horizontal_speed_mps:.2f} m/s horizontal, "
            f"tilt {contact.tilt_deg:.1f} deg, "
            f"{contact.propellant_kg:.1f} kg propellant left"
        ) + "".join(f"; {text}" for text in flown_through)
    parts = [stop_reason]
    failed = [check for check in checks if not check.passed]
    parts += [f"{c.quantity} {c.value:.2f} {c.unit} (limit {c.limit})" for c in failed]
    if contact is None:
        parts.append(f"no touchdown; truth altitude {truth_altitude_m:.0f} m")
    else:
        parts.append(f"impact {contact.speed_mps:.1f} m/s")
    listed = sorted(
        (item for item in findings if item.kind in VERDICT_FINDINGS), key=lambda f: f.time_s
    )
    parts += [f"{item.text} (t={item.time_s:.1f} s)" for item in listed]
    return "FAIL: " + "; ".join(parts)
