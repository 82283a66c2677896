"""Reconciliation's rules (pure): what is missing, what starts now, and what is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.operations.reconcile import EVENT_LAG, BatchView, RunView, Survey, Unannounced, findings

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
GRACE = timedelta(minutes=10)
OLD = NOW - timedelta(hours=1)


def batch(batch_id: str, scored: bool, monitored: bool, at: datetime = OLD) -> BatchView:
    return BatchView(batch_id=batch_id, ingested_at=at, scored=scored, monitored=monitored)


def survey(**fields: object) -> Survey:
    base: dict[str, object] = {
        "dataset": "credit",
        "champion": "2",
        "tenure": 3,
        "batches": [],
        "onset_batch_id": None,
        "drift_marked_at": None,
        "attempts": 0,
        "runs": [],
        "surveyed_at": NOW,
    }
    return Survey.model_validate(base | fields)


def started(survey: Survey) -> list[tuple[str, str]]:
    return [(f.flow, f.subject) for f in findings(survey, GRACE) if f.start]


def test_a_consistent_dataset_needs_nothing() -> None:
    assert findings(survey(batches=[batch("a", True, True), batch("b", True, True)]), GRACE) == []


def test_unscored_batches_are_scored_and_scored_ones_monitored() -> None:
    seen = survey(batches=[batch("a", False, False), batch("b", True, False), batch("c", True, True)])
    assert started(seen) == [("score", "a"), ("monitor", "b")]
    score = findings(seen, GRACE)[0]
    assert score.parameters == {"dataset": "credit", "batch_id": "a"} and "no predictions by v2" in score.missing


def test_a_drifted_tenure_without_an_attempt_is_retrained_from_its_onset() -> None:
    seen = survey(onset_batch_id="a", drift_marked_at=OLD)
    (retrain,) = findings(seen, GRACE)
    assert (retrain.flow, retrain.subject, retrain.start) == ("retrain", "t3", True)
    assert retrain.parameters["onset_batch_id"] == "a" and retrain.parameters["champion_version"] == "2"
    assert findings(survey(onset_batch_id="a", drift_marked_at=OLD, attempts=1), GRACE) == []


def test_what_is_newer_than_the_grace_is_left_to_the_automations() -> None:
    fresh = NOW - timedelta(minutes=2)
    seen = survey(batches=[batch("a", False, False, at=fresh)], onset_batch_id="a", drift_marked_at=fresh)
    assert findings(seen, GRACE) == []
    assert started(seen.model_copy(update={"surveyed_at": NOW + GRACE})) == [("score", "a"), ("retrain", "t3")]


def test_a_run_on_its_way_is_waited_for_and_repeated_failures_stop_for_a_person() -> None:
    batches = [batch("a", False, False), batch("b", False, False)]
    runs = [RunView(flow="score", subject="a", final=False, failed=False)]
    runs += [RunView(flow="score", subject="b", final=True, failed=True)] * 3
    found = {f.subject: f for f in findings(survey(batches=batches, runs=runs), GRACE)}
    assert not found["a"].start and "on its way" in found["a"].note
    assert not found["b"].start and "3 runs for it failed" in found["b"].note


def test_without_a_champion_there_is_nothing_to_score_or_monitor() -> None:
    assert findings(survey(champion=None, batches=[batch("a", False, False)]), GRACE) == []


def lost_event(subject: str, decided_at: datetime) -> Unannounced:
    return Unannounced(
        event="driftloop.model.promoted",
        subject=subject,
        event_id=f"id-{subject}",
        resource={},
        payload={},
        decided_at=decided_at,
    )


def test_a_decision_whose_event_never_arrived_is_announced_again_once_past_the_grace() -> None:
    lost = [lost_event("v2 #1", OLD), lost_event("v3 #2", NOW - timedelta(minutes=2))]
    found = findings(survey(unannounced=lost), GRACE)
    assert [(f.flow, f.subject, f.parameters) for f in found] == [("announce", "v2 #1", {"event_id": "id-v2 #1"})]


def test_without_a_champion_a_lost_rejection_is_still_announced() -> None:
    assert started(survey(champion=None, unannounced=[lost_event("v1 #1", OLD)])) == [("announce", "v1 #1")]


def test_an_event_sent_seconds_ago_may_be_on_its_way_even_with_no_grace() -> None:
    recent = lost_event("v2 #1", NOW - EVENT_LAG / 2)
    assert findings(survey(unannounced=[recent]), timedelta(0)) == []
    (later,) = findings(survey(unannounced=[recent], surveyed_at=NOW + EVENT_LAG), timedelta(0))
    assert (later.flow, later.subject, later.start) == ("announce", "v2 #1", True)
