"""The one typed settings object: defaults for blocks and the local stack, read from `DRIFTLOOP_*` variables.

This is the only module that reads the process environment. Everything users edit in the Prefect UI lives in blocks;
these settings only seed the blocks' defaults and tell the local stack where to put its state and which ports to use.

`driftloop up` records the stack's own settings (address, ports, bucket, pool) in its home, and they come after the
environment and before the defaults: a new shell that only knows the home (or nothing: the default home) still
reaches the stack that was started on other ports.
"""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = PROJECT_ROOT / ".driftloop"
RECORDED_SETTINGS = "stack-settings.json"
STACK_FIELDS = {  # not expose_beyond_loopback: answering the network is asked for each time, never remembered
    "host",
    "prefect_port",
    "s3_port",
    "mlflow_port",
    "postgres_port",
    "serve_port",
    "bucket",
    "region",
    "work_pool",
}


class Settings(BaseSettings):
    """driftloop settings; every field can be set as `DRIFTLOOP_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLOOP_", frozen=True, extra="forbid")

    home: Path = Field(
        default=DEFAULT_HOME,
        description="Directory holding all state of the local stack: databases, logs, pid files.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address the local stack binds to. Anything but loopback needs expose_beyond_loopback.",
    )
    expose_beyond_loopback: bool = Field(
        default=False,
        description="Set to true to bind the local stack to a non-loopback address: every service then answers "
        "anyone who can reach that address and holds the credentials (README: Security of the local stack).",
    )
    prefect_port: int = Field(default=4200, description="Port of the local Prefect API and UI.")
    s3_port: int = Field(default=9000, description="Port of the local S3-compatible endpoint.")
    mlflow_port: int = Field(default=5000, description="Port of the local MLflow tracking server.")
    postgres_port: int = Field(
        default=5433, description="Port of the local PostgreSQL behind the Prefect server (clear of a system one)."
    )
    serve_port: int = Field(default=8000, description="Port of the local model server.")
    serve_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the model server requires; the local stack generates one with its other "
        "credentials and `driftloop env` exports it.",
    )
    alias_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the model server checks the champion alias besides its events."
    )
    serve_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the model server re-reads the dataset and serving policy blocks (UI edits reach it "
        "within this).",
    )
    bucket: str = Field(default="driftloop", description="Bucket holding landing/, lake/, quarantine/ and the rest.")
    region: str = Field(default="us-east-1", description="Region of the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint; unset means the local stack's endpoint. Set to 'aws' to use AWS's own endpoints.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; unset means the local stack's MLflow server."
    )
    work_pool: str = Field(default="driftloop", description="Prefect work pool the deployments run on.")
    worker_poll_seconds: float = Field(default=1.0, description="How often the local worker polls for runs.")
    worker_limit: int = Field(
        default=3,
        ge=1,
        description="Flow runs the local worker runs at once. More processes than cores only slow each other, and "
        "on SQLite contend for the local server's write lock.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, RecordedStack(settings_cls), dotenv_settings, file_secret_settings

    def record(self) -> None:
        """Keep the stack's own settings in its home, for the shells that come later (see the module docstring)."""
        path = self.home / RECORDED_SETTINGS
        path.write_text(json.dumps(self.model_dump(mode="json", include=STACK_FIELDS), indent=2, sort_keys=True))
        path.chmod(0o600)

    @model_validator(mode="after")
    def _loopback_unless_acknowledged(self) -> Settings:
        if not self.expose_beyond_loopback and not _is_loopback(self.host):
            raise ValueError(
                f"DRIFTLOOP_HOST={self.host} is not a loopback address: the local stack would answer the network. "
                "Read the README's 'Security of the local stack', then set DRIFTLOOP_EXPOSE_BEYOND_LOOPBACK=true"
            )
        return self

    @property
    def resolved_s3_endpoint(self) -> str | None:
        """The S3 endpoint to use, or None for AWS's default endpoints."""
        if self.s3_endpoint_url == "aws":
            return None
        return self.s3_endpoint_url or f"http://{self.host}:{self.s3_port}"

    @property
    def resolved_mlflow_uri(self) -> str:
        """The MLflow tracking URI to use."""
        return self.mlflow_tracking_uri or f"http://{self.host}:{self.mlflow_port}"

    @property
    def prefect_api_url(self) -> str:
        """The local Prefect API URL."""
        return f"http://{self.host}:{self.prefect_port}/api"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()


def process_environment() -> dict[str, str]:
    """Return a copy of this process's environment, the base for processes the local stack starts."""
    return dict(os.environ)


class RecordedStack(PydanticBaseSettingsSource):
    """The settings `driftloop up` recorded in the home that was given (argument or environment) or the default."""

    def __call__(self) -> dict[str, Any]:
        path = Path(self.current_state.get("home") or DEFAULT_HOME) / RECORDED_SETTINGS
        if not path.is_file():
            return {}
        recorded: dict[str, Any] = json.loads(path.read_text())
        return {name: value for name, value in recorded.items() if name in STACK_FIELDS}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        return None, field_name, False  # the whole file is read at once in __call__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
