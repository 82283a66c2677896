"""Reading the champion history's recent records gives what the whole log gives, in a bounded read, on the real S3
server: with no head record yet, after a long run of rejections, and after a record whose head update a crash
never made."""

from __future__ import annotations

import pytest

from tasks.model import champions, history
from tasks.model.champions import Action
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig

pytestmark = pytest.mark.integration


def write(cfg: DatasetConfig, steps: list[tuple[Action, str]]) -> None:
    """Append records as decisions would (sequence after the newest), without moving the MLflow alias. The log is
    read once and followed here: this is the only writer."""
    log = history.read_log(cfg)
    for action, version in steps:
        entry = history.record(cfg, action, champions.champion(log), version, f"{action} v{version}")
        written = history.write_at(cfg, entry, champions.head(log) + 1)
        assert written is not None
        log = [*log, written]


def same_answers(cfg: DatasetConfig) -> list[history.HistoryRecord]:
    recent, whole = history.read_recent(cfg), history.read_log(cfg)
    for rule in (champions.champion, champions.tenure, champions.head):
        assert rule(recent) == rule(whole), rule.__name__
    assert all(record in whole for record in recent) and recent == sorted(recent, key=lambda r: r.sequence)
    return recent


def test_recent_records_answer_like_the_whole_log_and_stay_few(dataset: DatasetConfig) -> None:
    head = history.head_key(dataset.model_name)
    write(dataset, [("promote", "1"), ("promote", "2")])
    dataset.store.client.delete_object(Bucket=dataset.store.bucket, Key=head)  # a history from before the head
    assert len(same_answers(dataset)) == 2  # read whole, once, and the head written
    assert [r["sequence"] for r in dataset.store.get_json(head)["records"]] == [1, 2]

    # a long run of rejections after the champion's promotion: the head keeps the newest and the champion's own
    write(dataset, [("promote", "3")] + [("reject", str(v)) for v in range(4, 84)])
    recent = same_answers(dataset)
    assert len(recent) == history.RECENT_RECORDS + 1 and recent[0].to_version == "3"

    # a crash after a record, before the head: the listing after the head finds it
    log = history.read_log(dataset)
    late = history.record(dataset, "promote", "3", "84", "promote v84").model_copy(update={"sequence": 84})
    dataset.store.put_if_absent(
        f"{history.history_prefix(dataset.model_name)}{84:08d}.json", json_bytes(late.model_dump(mode="json"))
    )
    assert len(log) == 83 and same_answers(dataset)[-1].to_version == "84"

    # two writers' head updates landed out of order: the head lacks a record below its newest one
    head = dataset.store.get_json(history.head_key(dataset.model_name))
    gapped = [record for record in head["records"] if record["sequence"] != 80]
    dataset.store.put(history.head_key(dataset.model_name), json_bytes({"records": gapped}))
    assert 80 in [record.sequence for record in same_answers(dataset)]
