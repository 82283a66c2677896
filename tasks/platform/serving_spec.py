"""The serving policy's fields, pure: what the model server does with a dataset's challenger, and how often it hands
its online log to the loop. `blocks.models.ServingPolicy` adds what the UI needs; one document per dataset."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ServingMode = Literal["off", "shadow", "canary"]


class ServingPolicyFields(BaseModel):
    """How the model server serves one dataset."""

    mode: ServingMode = Field(
        default="off",
        description="off: the champion answers everything. shadow: the challenger scores every request too, its "
        "answers are logged and compared, never returned. canary: the challenger answers canary_percent of the "
        "records, chosen by a hash of the record id (the same id always meets the same model).",
    )
    canary_percent: float = Field(default=10.0, ge=0, le=100, description="Share of records the canary answers.")
    challenger_alias: str = Field(
        default="challenger", description="The registered model alias whose version is the challenger."
    )
    log_online: bool = Field(
        default=True,
        description="Land every scored record in landing/<dataset>/online/, so online traffic is ingested, "
        "monitored and trained on like any batch.",
    )
    flush_rows: int = Field(
        default=50_000,
        ge=1,
        description="A micro-batch is landed once this many rows wait... (each one is a batch through ingest, score "
        "and monitor, three flow runs: size it like a batch)",
    )
    flush_seconds: float = Field(default=60.0, gt=0, description="...or once the oldest has waited this long.")
