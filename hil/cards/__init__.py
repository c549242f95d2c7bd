"""Test cards: the declarative card model, the loader, the runner and the as-run record.

A card module in ``procedures/`` builds a module-level ``CARD`` from ``Card`` and the step
constructors; ``load_card`` imports it and binds its content hash; ``run_card`` runs it on an
open bench with an ``Operator`` and returns an ``AsRunRecord`` (JSON, JUnit XML).
docs/architecture.md §7 states the rules; ``hil run`` and ``hil cards list`` are in
``hil.cli.cards``.
"""

from __future__ import annotations

from hil.cards.limits import judge
from hil.cards.loader import LoadedCard, card_files, load_card
from hil.cards.model import (
    ActionStep,
    Card,
    CardError,
    InspectionStep,
    MeasurementStep,
    Monitor,
    PromptStep,
    Step,
    StepContext,
    action,
    inspection,
    measurement,
    prompt,
    step,
)
from hil.cards.operators import ConsoleOperator, InspectionResult, Operator, ScriptedOperator
from hil.cards.record import AsRunRecord, AttemptRecord, Excursion, Outcome, TeardownRecord
from hil.cards.runner import RunListener, run_card

__all__ = [
    "ActionStep",
    "AsRunRecord",
    "AttemptRecord",
    "Card",
    "CardError",
    "ConsoleOperator",
    "Excursion",
    "InspectionResult",
    "InspectionStep",
    "LoadedCard",
    "MeasurementStep",
    "Monitor",
    "Operator",
    "Outcome",
    "PromptStep",
    "RunListener",
    "ScriptedOperator",
    "Step",
    "StepContext",
    "TeardownRecord",
    "action",
    "card_files",
    "inspection",
    "judge",
    "load_card",
    "measurement",
    "prompt",
    "run_card",
    "step",
]
