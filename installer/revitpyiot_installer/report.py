"""What each step did, printed as it happens: one line per step, and a summary."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

# Outcomes a step can report. A second install prints only "unchanged" (and "skipped"/"kept").
CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
REMOVED = "removed"
KEPT = "kept"
SKIPPED = "skipped"
FAILED = "failed"
INFO = "info"


@dataclass
class StepResult:
    step: str
    outcome: str
    detail: str


@dataclass
class Reporter:
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    results: list[StepResult] = field(default_factory=list)

    def step(self, step: str, outcome: str, detail: str) -> StepResult:
        result = StepResult(step, outcome, detail)
        self.results.append(result)
        shown = outcome
        if self.dry_run and outcome in (CREATED, UPDATED, REMOVED):
            shown = "would be " + outcome
        self.out.write(f"[{step}] {shown}: {detail}\n")
        self.out.flush()
        return result

    def note(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def failed(self) -> bool:
        return any(result.outcome == FAILED for result in self.results)

    def outcome_of(self, step: str) -> str | None:
        for result in reversed(self.results):
            if result.step == step:
                return result.outcome
        return None

    def summary(self) -> str:
        counts: dict = {}
        for result in self.results:
            if result.outcome != INFO:
                counts[result.outcome] = counts.get(result.outcome, 0) + 1
        parts = [f"{count} {'would be ' if self.dry_run and outcome in (CREATED, UPDATED, REMOVED) else ''}"
                 f"{outcome}" for outcome, count in sorted(counts.items())]
        prefix = "Dry run, nothing changed: " if self.dry_run else ""
        return prefix + (", ".join(parts) if parts else "nothing to do")
