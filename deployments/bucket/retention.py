"""Retention of landing/ and reports/: the rules of lifecycle.json, merged by `driftloop init` into the bucket's
lifecycle configuration (lifecycle.json says why each is safe, and for how many days).

driftloop never deletes under landing/ (the producers own it), so expiring objects is the bucket's job, not a flow's.
The merge is by rule ID: driftloop's rules are added or replaced, every other rule is sent back as it was read (and
the bucket's default minimum transition size with them), and a run that would change nothing writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from blocks.models import StorageLocation
from blocks.settings import Settings
from tasks.platform.errors import ConfigurationError
from tasks.platform.store import open_store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutBucketLifecycleConfigurationRequestTypeDef

LIFECYCLE_FILE = Path(__file__).with_name("lifecycle.json")
LANDING_RULE = "driftloop-landing-retention"
REPORTS_RULE = "driftloop-reports-retention"
KEPT_SETTINGS = ("TransitionDefaultMinimumObjectSize",)  # bucket-wide settings a PUT without them would reset

Rule = dict[str, Any]


def rules(landing_days: int | None, report_days: int | None, path: Path = LIFECYCLE_FILE) -> list[Rule]:
    """The file's rules for the retentions asked for (None leaves that rule alone), expiring after the days given."""
    wanted = {LANDING_RULE: landing_days, REPORTS_RULE: report_days}
    chosen = []
    for rule in json.loads(path.read_text())["Rules"]:
        days = wanted.get(rule["ID"])
        if days is None:
            continue
        if days < 1:
            raise ConfigurationError(f"{rule['ID']}: objects expire after a whole number of days, at least 1 ({days})")
        chosen.append(rule | {"Expiration": {"Days": days}})
    return chosen


def merged(existing: list[Rule], ours: list[Rule]) -> list[Rule]:
    """The bucket's rules, each replaced by ours of the same ID, in their order; then ours the bucket lacked."""
    by_id = {rule["ID"]: rule for rule in ours}
    kept = [by_id.pop(rule.get("ID", ""), rule) for rule in existing]
    return kept + list(by_id.values())


def apply(client: S3Client, bucket: str, ours: list[Rule]) -> bool:
    """Merge `ours` into the bucket's lifecycle configuration; True if it was written, False if it held them already."""
    current = _current(client, bucket)
    existing: list[Rule] = current.get("Rules", [])
    wanted = merged(existing, ours)
    if wanted == existing:
        return False
    request = {"Bucket": bucket, "LifecycleConfiguration": {"Rules": wanted}}
    request |= {name: current[name] for name in KEPT_SETTINGS if name in current}
    try:
        client.put_bucket_lifecycle_configuration(**cast("PutBucketLifecycleConfigurationRequestTypeDef", request))
    except (ClientError, BotoCoreError) as exc:
        raise _refused(client, bucket, "PutBucketLifecycleConfiguration", exc) from exc
    return True


def retain(settings: Settings, landing_days: int | None, report_days: int | None) -> str:
    """Apply the retentions asked for to the settings' bucket, through the client the flows use; what now holds."""
    ours = rules(landing_days, report_days)
    location = StorageLocation(
        bucket=settings.bucket, endpoint_url=settings.resolved_s3_endpoint, region=settings.region
    )
    written = apply(open_store(location).client, location.bucket, ours)
    held = ", ".join(f"{_prefix(rule)} after {rule['Expiration']['Days']} days" for rule in ours)
    return f"lifecycle of s3://{location.bucket}: {held} ({'applied' if written else 'already in place'})"


def _current(client: S3Client, bucket: str) -> dict[str, Any]:
    """The bucket's lifecycle configuration as S3 returns it; empty when the bucket has none."""
    try:
        return dict(client.get_bucket_lifecycle_configuration(Bucket=bucket))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return {}
        raise _refused(client, bucket, "GetBucketLifecycleConfiguration", exc) from exc
    except BotoCoreError as exc:
        raise _refused(client, bucket, "GetBucketLifecycleConfiguration", exc) from exc


def _refused(client: S3Client, bucket: str, operation: str, exc: Exception) -> ConfigurationError:
    """The store's answer, named: its error code and message and the HTTP status, or the client's own failure."""
    answer = str(exc)
    if isinstance(exc, ClientError):
        error, status = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        answer = f"{error.get('Code', '?')}: {error.get('Message', '')} (HTTP {status})"
    where = client.meta.endpoint_url
    return ConfigurationError(
        f"the object store at {where} refused {operation} on bucket {bucket!r}: {answer}. Retention was not applied; "
        f"apply {LIFECYCLE_FILE.name} with the store's own tools, or run init without the retention options"
    )


def _prefix(rule: Rule) -> str:
    rule_filter: dict[str, Any] = rule.get("Filter", {})
    return str(rule_filter.get("Prefix", rule_filter.get("And", {}).get("Prefix", "")))
