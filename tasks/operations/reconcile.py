"""Reconciliation, pure: from what is persisted and what is running, the runs the automations should have started.

Events are best-effort and automation actions can fail, so a batch can stay unscored, a scored batch unmonitored, or
a drift episode unretrained. The rules, for the newest batches of the champion's window:
- a batch with no predictions by the champion is scored; a scored batch with no drift summary for it is monitored;
- the window is the batches ingested since the champion's tenure began, or all of them under the first champion
  (batches that landed before any champion existed are scored once there is one);
- a drifted tenure with no attempt yet is retrained;
- what happened within the last `grace` (batches ingested, drift marked) is left to the automations, which act
  within seconds: the reconciler makes good what they did not do, and does not race them;
- a persisted decision (a promotion, rejection or rollback in the champion history, a drift detected) whose event
  the server never received is announced again, with the id it was first sent under;
- nothing is started twice: a run of the same flow for the same batch (or tenure) that has not finished is waited
  for, and after `max_failures` failed runs for one the reconciler stops and reports it for a person instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

Flow = Literal["score", "monitor", "retrain", "announce"]

# The server persists events in batches seconds after they are sent: a younger decision's event may be on its way.
EVENT_LAG = timedelta(seconds=20)


class BatchView(BaseModel):
    """One batch of the window: whether the champion scored it and whether monitoring checked it."""

    batch_id: str
    ingested_at: datetime
    scored: bool
    monitored: bool


class RunView(BaseModel):
    """A run of a driftloop deployment for one batch (or, for retrain, one tenure), as Prefect reports it."""

    flow: Flow
    subject: str  # the batch id, or `t<tenure>` for retrain
    final: bool
    failed: bool


class Unannounced(BaseModel):
    """A persisted decision whose event the server holds no trace of: the event to send again under its first id. A
    drift event is sent as it was; a history decision carries its record (a subset of what promote first sent)."""

    event: str
    subject: str  # what the event is about, for people: `v3 #5`, `batch 20240301-ab12`
    event_id: str
    resource: dict[str, str]
    payload: dict[str, Any]
    decided_at: datetime


class Survey(BaseModel):
    """What reconciliation knows of one dataset: its champion and tenure, the window's batches, the drift, the runs."""

    dataset: str
    champion: str | None
    tenure: int
    batches: list[BatchView]
    onset_batch_id: str | None
    drift_marked_at: datetime | None  # when monitoring last marked a batch of the tenure drifted
    attempts: int
    runs: list[RunView]
    unannounced: list[Unannounced] = []
    surveyed_at: datetime


class Finding(BaseModel):
    """Something missing, and the run that makes it good (or why none is started)."""

    flow: Flow
    subject: str
    missing: str
    parameters: dict[str, str]
    start: bool = True
    note: str = ""


def tenure_subject(tenure: int) -> str:
    return f"t{tenure}"


def findings(survey: Survey, grace: timedelta, max_failures: int = 3) -> list[Finding]:
    """Every missing score, monitor check, retrain and announcement, each marked whether to act on it now."""
    settled = survey.surveyed_at - grace
    announcements = _announce_findings(survey, survey.surveyed_at - max(grace, EVENT_LAG))
    if survey.champion is None:  # a first challenger's rejection is still announced
        return announcements
    missing = [*_batch_findings(survey, settled), *_drift_findings(survey, settled)]
    return [_decide(finding, survey.runs, max_failures) for finding in missing] + announcements


def _batch_findings(survey: Survey, settled: datetime) -> list[Finding]:
    result = []
    for batch in (b for b in survey.batches if b.ingested_at <= settled):
        parameters = {"dataset": survey.dataset, "batch_id": batch.batch_id}
        if not batch.scored:
            why = f"no predictions by v{survey.champion}"
            result.append(Finding(flow="score", subject=batch.batch_id, missing=why, parameters=parameters))
        elif not batch.monitored:
            why = f"scored by v{survey.champion}, never checked for drift"
            result.append(Finding(flow="monitor", subject=batch.batch_id, missing=why, parameters=parameters))
    return result


def _drift_findings(survey: Survey, settled: datetime) -> list[Finding]:
    if survey.onset_batch_id is None or survey.attempts or not survey.drift_marked_at:
        return []
    if survey.drift_marked_at > settled:
        return []
    parameters = {
        "dataset": survey.dataset,
        "onset_batch_id": survey.onset_batch_id,
        "champion_version": str(survey.champion),
        "trigger_event_id": "reconcile",
    }
    why = f"tenure #{survey.tenure} drifted at batch {survey.onset_batch_id}; no retrain attempt"
    return [Finding(flow="retrain", subject=tenure_subject(survey.tenure), missing=why, parameters=parameters)]


def _announce_findings(survey: Survey, settled: datetime) -> list[Finding]:
    """Decisions older than the grace whose events are missing; the id names the announcement to send again."""
    return [
        Finding(
            flow="announce",
            subject=lost.subject,
            missing=f"{lost.event} never reached the server",
            parameters={"event_id": lost.event_id},
        )
        for lost in survey.unannounced
        if lost.decided_at <= settled
    ]


def _decide(finding: Finding, runs: list[RunView], max_failures: int) -> Finding:
    mine = [run for run in runs if (run.flow, run.subject) == (finding.flow, finding.subject)]
    if any(not run.final for run in mine):
        return finding.model_copy(update={"start": False, "note": "a run for it is on its way"})
    failures = sum(run.failed for run in mine)
    if failures >= max_failures:
        note = f"{failures} runs for it failed; not started again: a person is needed"
        return finding.model_copy(update={"start": False, "note": note})
    return finding
