"""Drift episodes (pure): consecutive drifted batches confirm, one unusual batch is transient, order is ingest order."""

from __future__ import annotations

from tasks.monitoring.confirmation import CheckMark, confirmed_onset, episode_at, mark_of, parse_marks


def marks(*verdicts: str) -> list[CheckMark]:
    return [CheckMark(batch_id=f"b{i}", mark=v) for i, v in enumerate(verdicts)]  # type: ignore[arg-type]


def test_one_drifted_batch_is_not_confirmed_and_the_next_quiet_one_closes_it_as_transient() -> None:
    seen = marks("quiet", "drifted", "quiet")
    anomaly = episode_at(seen, "b1", confirm_batches=2)
    assert (anomaly.onset_batch_id, anomaly.batches, anomaly.confirmed) == ("b1", ["b1"], False)
    assert episode_at(seen, "b2", confirm_batches=2).transient == ["b1"]
    assert confirmed_onset(seen, confirm_batches=2) is None


def test_consecutive_drifted_batches_confirm_from_their_onset() -> None:
    seen = marks("quiet", "drifted", "drifted", "drifted")
    episode = episode_at(seen, "b3", confirm_batches=2)
    assert (episode.onset_batch_id, episode.batches, episode.confirmed) == ("b1", ["b1", "b2", "b3"], True)
    assert confirmed_onset(seen, confirm_batches=2) == "b1"
    assert episode_at(marks("quiet", "drifted", "drifted", "quiet"), "b3", 2).transient == []  # it was confirmed


def test_a_later_batch_checked_first_joins_the_episode_when_the_earlier_one_arrives() -> None:
    later_first = marks("quiet", "quiet", "drifted")  # b2 checked before b1
    assert not episode_at(later_first, "b2", confirm_batches=2).confirmed
    both = marks("quiet", "drifted", "drifted")
    assert episode_at(both, "b1", confirm_batches=2).model_dump() == episode_at(both, "b2", 2).model_dump()
    assert episode_at(both, "b1", confirm_batches=2).onset_batch_id == "b1"


def test_a_strong_performance_drop_confirms_at_once() -> None:
    assert mark_of(drifted=True, strong_drop=True) == "strong" and mark_of(False, True) == "quiet"
    episode = episode_at(marks("quiet", "strong"), "b1", confirm_batches=3)
    assert episode.confirmed and confirmed_onset(marks("quiet", "strong"), 3) == "b1"


def test_the_newest_confirmed_episode_gives_the_onset_and_transients_before_it_do_not() -> None:
    seen = marks("drifted", "quiet", "drifted", "drifted", "quiet", "drifted")
    assert confirmed_onset(seen, confirm_batches=2) == "b2"


def test_marks_are_read_in_ingest_order_from_key_names() -> None:
    keys = ["p/20260102T000000000000-bbb.drifted", "p/20260101T000000000000-aaa.quiet"]
    assert [(m.batch_id, m.mark) for m in parse_marks(keys)] == [("aaa", "quiet"), ("bbb", "drifted")]
