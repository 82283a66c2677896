"""Reading the champion history's recent records gives what the whole log gives, in a bounded read, on the real S3
server: with no tenure record yet, after a long run of rejections, and after a move whose tenure record a crash
never wrote."""

from __future__ import annotations

import pytest

from tasks.model import champions, history
from tasks.model.champions import Action
from tasks.platform.config import DatasetConfig

pytestmark = pytest.mark.integration


def write(cfg: DatasetConfig, steps: list[tuple[Action, str]]) -> None:
    """Append records as decisions would (sequence after the newest), without moving the MLflow alias."""
    for action, version in steps:
        log = history.read_log(cfg)
        entry = history.record(cfg, action, champions.champion(log), version, f"{action} v{version}")
        assert history.write_at(cfg, entry, champions.head(log) + 1) is not None


def same_answers(cfg: DatasetConfig) -> list[history.HistoryRecord]:
    recent, whole = history.read_recent(cfg), history.read_log(cfg)
    for rule in (champions.champion, champions.tenure, champions.head):
        assert rule(recent) == rule(whole), rule.__name__
    assert recent == whole[-len(recent) :]
    return recent


def test_recent_records_answer_like_the_whole_log_and_stay_few(dataset: DatasetConfig) -> None:
    write(dataset, [("promote", "1"), ("promote", "2")])
    assert not dataset.store.exists(history.tenure_key(dataset.model_name))
    assert len(same_answers(dataset)) == 2  # no tenure record yet: the whole log, once, and the record is written
    assert dataset.store.get_json(history.tenure_key(dataset.model_name)) == {"tenure": 2}

    write(dataset, [("reject", str(v)) for v in range(3, 83)] + [("promote", "83"), ("reject", "84")])
    # a crash after the promotion's record, before its tenure record: an older tenure is named, nothing is missed
    assert len(same_answers(dataset)) == 84

    dataset.store.client.delete_object(Bucket=dataset.store.bucket, Key=history.tenure_key(dataset.model_name))
    same_answers(dataset)  # the whole log once more, and the tenure record names the promotion of v83 (#83)
    recent = same_answers(dataset)
    assert len(recent) == history.RECENT_RECORDS + 2 and recent[-2].to_version == "83"
