"""The card runner's question dialogs: a prompt, an inspection (pass/fail, comment, evidence)
and the retry/continue/abort choice after a failed attempt.

Each dialog is non-modal (the GUI keeps redrawing while it is open) and answers its
``OperatorRequest`` when accepted. ``fill(answer)`` puts a scripted answer into the widgets so
tests and CI go through the same path a person does; ``answer_now()`` then submits it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from hil.cards.model import InspectionStep, MeasurementStep
from hil.cards.operators import InspectionResult
from hil.services.operator import OperatorRequest

FAILURE_TEXT = {
    "retry": "Retry: run the step again (a new attempt; the failed one stays in the record)",
    "continue": "Continue: go on with the next step (the card will FAIL)",
    "abort": "Abort: stop the card now (the teardown still runs)",
}


class QuestionDialog(QtWidgets.QDialog):
    """Base: the step header, the request, and accept -> ``request.answer``."""

    def __init__(self, request: OperatorRequest, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.setModal(False)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, False)
        step = request.step
        rii = "  <b style='color:#b00000'>RII</b>" if step.rii else ""
        self.setWindowTitle(f"Step {step.number}: {step.kind}")
        self.layout_ = QtWidgets.QVBoxLayout(self)
        header = QtWidgets.QLabel(f"<b>Step {step.number}</b> ({step.kind}){rii}")
        self.layout_.addWidget(header)
        text = QtWidgets.QLabel(step.text)
        text.setWordWrap(True)
        self.layout_.addWidget(text)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setStyleSheet("color: #b00000")
        self.error_label.setWordWrap(True)
        self.setMinimumWidth(520)

    def value(self) -> str | InspectionResult | None:
        """The answer the widgets hold (None: not complete yet)."""
        raise NotImplementedError

    def fill(self, answer: str | InspectionResult) -> None:
        raise NotImplementedError

    def answer_now(self) -> bool:
        """Submit the widgets' answer; False (and a message) when it is incomplete."""
        value = self.value()
        if value is None:
            self.error_label.setText("Choose an answer first.")
            return False
        self.request.answer(value)
        super().accept()
        return True

    def accept(self) -> None:
        self.answer_now()

    def reject(self) -> None:  # closing the dialog does not answer: the card waits
        self.hide()


class PromptDialog(QuestionDialog):
    """A question with one button per allowed answer."""

    def __init__(self, request: OperatorRequest, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(request, parent)
        self._chosen: str | None = None
        row = QtWidgets.QHBoxLayout()
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for answer in request.answers:
            button = QtWidgets.QPushButton(answer)
            button.clicked.connect(lambda _=False, a=answer: self._choose(a))
            row.addWidget(button)
            self.buttons[answer] = button
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.error_label)

    def _choose(self, answer: str) -> None:
        self._chosen = answer
        self.answer_now()

    def value(self) -> str | None:
        return self._chosen

    def fill(self, answer: str | InspectionResult) -> None:
        self._chosen = str(answer)
        button = self.buttons.get(self._chosen)
        if button is not None:
            button.setDown(True)


class InspectionDialog(QuestionDialog):
    """The criterion, satisfactory / unsatisfactory, a comment, an optional evidence file."""

    def __init__(self, request: OperatorRequest, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(request, parent)
        step = request.step
        assert isinstance(step, InspectionStep)
        criterion = QtWidgets.QLabel(f"<b>Criterion:</b> {step.criterion}")
        criterion.setWordWrap(True)
        self.layout_.addWidget(criterion)
        self.passed = QtWidgets.QRadioButton("Satisfactory (criterion met)")
        self.failed = QtWidgets.QRadioButton("Unsatisfactory (criterion not met)")
        self.layout_.addWidget(self.passed)
        self.layout_.addWidget(self.failed)
        self.comment = QtWidgets.QPlainTextEdit()
        self.comment.setPlaceholderText("comment (what you saw)")
        self.comment.setFixedHeight(64)
        self.layout_.addWidget(self.comment)
        evidence_row = QtWidgets.QHBoxLayout()
        self.evidence = QtWidgets.QLineEdit()
        self.evidence.setPlaceholderText(
            "evidence file (photo, scan)" + (" - requested" if step.evidence else " - optional")
        )
        browse = QtWidgets.QPushButton("Attach...")
        browse.clicked.connect(self._browse)
        evidence_row.addWidget(self.evidence, 1)
        evidence_row.addWidget(browse)
        self.layout_.addLayout(evidence_row)
        self.layout_.addWidget(self.error_label)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Record judgement")
        buttons.accepted.connect(self.accept)
        self.layout_.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Evidence file")
        if path:
            self.evidence.setText(path)

    def value(self) -> InspectionResult | None:
        if not (self.passed.isChecked() or self.failed.isChecked()):
            return None
        text = self.evidence.text().strip()
        evidence = Path(text).expanduser() if text else None
        if evidence is not None and not evidence.is_file():
            self.error_label.setText(f"no such file: {evidence}")
            return None
        comment = self.comment.toPlainText().strip()
        return InspectionResult(self.passed.isChecked(), comment, evidence)

    def answer_now(self) -> bool:
        value = self.value()
        if value is None:
            if not self.error_label.text():
                self.error_label.setText("Judge the criterion: satisfactory or unsatisfactory.")
            return False
        self.request.answer(value)
        QtWidgets.QDialog.accept(self)
        return True

    def fill(self, answer: str | InspectionResult) -> None:
        assert isinstance(answer, InspectionResult)
        (self.passed if answer.passed else self.failed).setChecked(True)
        self.comment.setPlainText(answer.comment)
        self.evidence.setText(str(answer.evidence) if answer.evidence else "")


class FailureDialog(QuestionDialog):
    """After a failed attempt: what failed, then retry / continue / abort."""

    def __init__(
        self,
        request: OperatorRequest,
        detail: str = "",
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(request, parent)
        self.setWindowTitle(f"Step {request.step.number} failed")
        step = request.step
        limits = f" (limits {step.limits_text()})" if isinstance(step, MeasurementStep) else ""
        what = QtWidgets.QLabel(
            f"<b style='color:#b00000'>Attempt {request.attempt} failed</b>{limits}<br>{detail}"
        )
        what.setWordWrap(True)
        self.layout_.addWidget(what)
        self._chosen: str | None = None
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for choice in request.answers:
            button = QtWidgets.QPushButton(FAILURE_TEXT.get(choice, choice))
            button.setStyleSheet("text-align: left; padding: 4px")
            button.clicked.connect(lambda _=False, c=choice: self._choose(c))
            self.layout_.addWidget(button)
            self.buttons[choice] = button
        self.layout_.addWidget(self.error_label)

    def _choose(self, choice: str) -> None:
        self._chosen = choice
        self.answer_now()

    def value(self) -> str | None:
        return self._chosen

    def fill(self, answer: str | InspectionResult) -> None:
        self._chosen = str(answer)


def dialog_for(
    request: OperatorRequest, detail: str = "", parent: QtWidgets.QWidget | None = None
) -> QuestionDialog:
    if request.kind == "ask":
        return PromptDialog(request, parent)
    if request.kind == "inspect":
        return InspectionDialog(request, parent)
    return FailureDialog(request, detail, parent)
