"""Idempotent registration of driftloop's block types and default block documents."""

from __future__ import annotations

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters

from blocks import names
from blocks.models import DatasetSpec, DriftPolicy, MlflowTracking, PromotionPolicy, ServingPolicy, StorageLocation
from blocks.settings import Settings

BLOCK_TYPES: tuple[type[Block], ...] = (
    StorageLocation,
    MlflowTracking,
    DatasetSpec,
    DriftPolicy,
    PromotionPolicy,
    ServingPolicy,
)


def register_block_types() -> None:
    """Register (or update) every driftloop block type so it shows in the UI's block catalogue."""
    for block_type in BLOCK_TYPES:
        block_type.register_type_and_schema()


def demo_dataset() -> DatasetSpec:
    """The dataset block of the bundled credit-risk demo."""
    return DatasetSpec(
        contract="tasks.contracts.credit:CreditApplication",
        target="defaulted",
        id_column="application_id",
        event_time_column="applied_at",
        categorical_columns=["home_ownership", "loan_purpose", "region"],
        sensitive_columns=["applicant_sex"],
        model_name="credit-risk",
    )


def save_defaults(
    settings: Settings, credentials: AwsCredentials | None = None, overwrite: bool = False, demo: bool = True
) -> list[str]:
    """Save the default documents that do not exist yet (or all, with `overwrite`); return the names saved. Without
    `demo`, only the four every flow loads (storage, MLflow, the two policies), not the demo dataset.

    Existing documents are left alone so that edits made in the UI survive `driftloop up`.
    """
    defaults: dict[str, Block] = {
        names.STORAGE: StorageLocation(
            bucket=settings.bucket,
            endpoint_url=settings.resolved_s3_endpoint,
            region=settings.region,
            credentials=credentials,
        ),
        names.MLFLOW: MlflowTracking(tracking_uri=settings.resolved_mlflow_uri),
        names.DRIFT_POLICY: DriftPolicy(),
        names.PROMOTION_POLICY: PromotionPolicy(),
        names.RESULTS: result_storage(settings, credentials),
    }
    if demo:
        defaults[names.DEMO_DATASET] = demo_dataset()
    saved = []
    for name, block in defaults.items():
        if overwrite or not _exists(type(block), name):
            block.save(name, overwrite=True)
            saved.append(name)
    return saved


def client_parameters(settings: Settings) -> AwsClientParameters:
    """How a Prefect AWS block reaches the bucket: the S3-compatible endpoint, if any, addressed by path."""
    endpoint = settings.resolved_s3_endpoint
    if endpoint is None:
        return AwsClientParameters()
    return AwsClientParameters(endpoint_url=endpoint, config={"s3": {"addressing_style": "path"}})


def result_storage(settings: Settings, credentials: AwsCredentials | None) -> S3Bucket:
    """Prefect's result storage on driftloop's bucket, under prefect-results/: what a run persists outlives the
    worker (and the machine) that wrote it. Without stored keys, the workers' AWS credential chain is used."""
    chain = AwsCredentials(region_name=settings.region, aws_client_parameters=client_parameters(settings))
    reach = credentials or chain
    return S3Bucket(bucket_name=settings.bucket, bucket_folder="prefect-results", credentials=reach)


def _exists(block_type: type[Block], name: str) -> bool:
    try:
        block_type.load(name, validate=False)
    except (ValueError, ObjectNotFound):
        return False
    return True
