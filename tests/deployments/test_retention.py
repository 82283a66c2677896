"""Retention of landing/ and reports/ against the stack's S3 server (SeaweedFS answers the lifecycle API as S3
does): `driftloop init --retention-days/--report-retention-days` merges lifecycle.json's rules into the bucket's
configuration by rule ID, keeps every other rule, writes nothing when nothing changes, and a store that refuses
stops init before any block is saved, naming the store's answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from blocks.models import StorageLocation
from blocks.settings import Settings
from deployments.bucket import retention
from deployments.cli import main
from tasks.platform.errors import ConfigurationError
from tasks.platform.store import open_store

pytestmark = pytest.mark.integration

FOREIGN = [
    {"ID": "ops-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 2}},
    {
        "ID": "ops-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    },
]


@pytest.fixture
def bucket(settings: Settings, s3_endpoint: str) -> Settings:
    """Settings naming a new, empty bucket of the session's S3 server."""
    target = settings.model_copy(update={"bucket": f"retention-{uuid.uuid4().hex[:8]}"})
    client(target).create_bucket(Bucket=target.bucket)
    return target


def client(target: Settings) -> Any:
    location = StorageLocation(bucket=target.bucket, endpoint_url=target.resolved_s3_endpoint)
    return open_store(location).client


def lifecycle(target: Settings) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = client(target).get_bucket_lifecycle_configuration(Bucket=target.bucket)["Rules"]
    return rules


def test_the_file_holds_the_two_rules_the_options_send() -> None:
    document = json.loads(retention.LIFECYCLE_FILE.read_text())
    assert set(document["why"]) == {retention.LANDING_RULE, retention.REPORTS_RULE}
    landing, reports = retention.rules(30, 400)
    assert landing == {
        "ID": retention.LANDING_RULE,
        "Status": "Enabled",
        "Filter": {"Prefix": "landing/"},
        "Expiration": {"Days": 30},
    }
    # The episode marks under reports/ are empty objects: the drift state retrain and reconcile read never expires.
    assert reports["Filter"] == {"And": {"Prefix": "reports/", "ObjectSizeGreaterThan": 1}}
    assert reports["Expiration"] == {"Days": 400} and reports["Status"] == "Enabled"
    assert [rule["ID"] for rule in retention.rules(None, 7)] == [retention.REPORTS_RULE]
    with pytest.raises(ConfigurationError, match="at least 1"):
        retention.rules(0, None)


def test_applying_twice_leaves_one_configuration_and_keeps_the_buckets_other_rules(bucket: Settings) -> None:
    client(bucket).put_bucket_lifecycle_configuration(Bucket=bucket.bucket, LifecycleConfiguration={"Rules": FOREIGN})
    assert retention.retain(bucket, 30, 400).endswith("landing/ after 30 days, reports/ after 400 days (applied)")
    assert lifecycle(bucket) == FOREIGN + retention.rules(30, 400)
    assert retention.retain(bucket, 30, 400).endswith("(already in place)")
    assert lifecycle(bucket) == FOREIGN + retention.rules(30, 400)


def test_new_days_replace_driftloops_rule_in_place_and_touch_no_other(bucket: Settings) -> None:
    retention.retain(bucket, 30, 400)
    rules = lifecycle(bucket)
    client(bucket).put_bucket_lifecycle_configuration(
        Bucket=bucket.bucket, LifecycleConfiguration={"Rules": rules + FOREIGN}
    )
    assert retention.retain(bucket, 45, None).endswith("landing/ after 45 days (applied)")
    assert lifecycle(bucket) == retention.rules(45, 400) + FOREIGN


def test_init_stops_before_any_block_when_the_store_refuses(
    settings: Settings, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    arguments = ["init", "--bucket", missing, "--endpoint-url", s3_endpoint, "--mlflow-uri", "http://mlflow.invalid"]
    assert main([*arguments, "--retention-days", "30"]) == 1
    error = capsys.readouterr().err
    assert f"refused GetBucketLifecycleConfiguration on bucket {missing!r}: NoSuchBucket" in error
    assert "(HTTP 404)" in error and "Retention was not applied" in error
