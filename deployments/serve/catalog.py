"""What the server serves: per dataset, its blocks, its compiled contract, its policy and the loaded models.

A dataset's `Served` is immutable and replaced whole when anything changes, so a request that took it finishes on the
models it started with while the next one meets the new champion. The challenger is loaded before it is promoted and
the champion it replaces is kept, so a promotion and a rollback both swap to a model already in memory. A version is
swapped in only after it loaded and passed its SHA-256 manifest check (tasks.model.registry); one that fails stays
out, and the one before keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from mlflow.exceptions import MlflowException

from blocks import names
from blocks.models import ServingPolicy
from deployments.serve.metrics import ServerMetrics
from tasks.model.records import LoadedModel
from tasks.model.registry import CHAMPION, alias_version, champion_version, every_alias, load_model
from tasks.platform.config import DatasetConfig, documents_of, load_every_dataset
from tasks.platform.errors import DriftloopError
from tasks.platform.serving_spec import ServingPolicyFields
from tasks.serving.online_log import OnlineLog
from tasks.serving.validation import RequestContract

log = logging.getLogger("driftloop.serve")


@dataclass(frozen=True)
class Served:
    cfg: DatasetConfig
    contract: RequestContract
    policy: ServingPolicyFields
    log: OnlineLog
    champion: LoadedModel | None = None
    challenger: LoadedModel | None = None
    previous: LoadedModel | None = None  # the champion before the last swap: what a rollback returns to
    refused: dict[str, str] = field(default_factory=dict)  # version -> why it was not swapped in

    @property
    def ready(self) -> bool:
        return self.champion is not None


class Catalog:
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        self._served: dict[str, Served] = {}
        self._lock = threading.Lock()  # one refresh at a time; readers never wait

    def get(self, dataset: str) -> Served | None:
        return self._served.get(dataset)

    def all(self) -> dict[str, Served]:
        return dict(self._served)

    def refresh_datasets(self) -> None:
        """Every dataset block, with its serving policy (defaults where it has none); a new block is served from now
        on, a deleted one no longer. Models already loaded are kept."""
        with self._lock:
            current = {}
            policies = documents_of(ServingPolicy)
            for name, cfg in load_every_dataset().items():
                policy = _policy(policies.get(names.serving_policy(name)))
                known = self._served.get(name)
                if known is not None and known.cfg == cfg:
                    cfg = known.cfg  # unchanged: keep what was derived from it (the S3 client above all)
                cfg.store  # noqa: B018  (made now, off the request path: a client costs a tenth of a second of CPU)
                same_contract = known is not None and known.cfg.spec == cfg.spec
                contract = (
                    known.contract
                    if known and same_contract
                    else RequestContract(cfg.contract, cfg.spec.target, cfg.columns.features)
                )
                online = known.log if known else OnlineLog(policy.flush_rows, policy.flush_seconds)
                online.flush_rows, online.flush_seconds = policy.flush_rows, policy.flush_seconds
                base = known or Served(cfg, contract, policy, online)
                current[name] = replace(base, cfg=cfg, contract=contract, policy=policy)
            self._served = current

    def refresh_models(self, only: str | None = None) -> None:
        """Load the champion (and the challenger, unless the policy is off) wherever its alias moved: every
        dataset's aliases read in one registry search (the periodic check: two requests a dataset every second
        would load MLflow in proportion to the datasets served), or one dataset's (`only`, after its event)."""
        with self._lock:
            chosen = {name: served for name, served in self._served.items() if only in (None, name)}
            every = every_alias(next(iter(chosen.values())).cfg) if only is None and chosen else None
            for name, served in chosen.items():
                aliases = None if every is None else every.get(served.cfg.model_name, {})
                self._served[name] = self._with_current_models(served, aliases)

    def _with_current_models(self, served: Served, aliases: Mapping[str, str | None] | None) -> Served:
        """`aliases`: the model's, as read with every other's; None: ask the registry."""
        alias = served.policy.challenger_alias
        if aliases is None:
            aliases = {CHAMPION: champion_version(served.cfg), alias: alias_version(served.cfg, alias)}
        champion = self._model(served, "champion", aliases.get(CHAMPION), served.champion)
        wanted = aliases.get(alias)
        if champion is not None and wanted == champion.version:
            wanted = None  # promoted: the champion now, not a challenger to itself
        # Loaded (downloaded and verified) whatever the policy's mode, which decides whether it answers: the
        # challenger is the likeliest next champion, and a promotion then swaps at once instead of after a download.
        challenger = self._model(served, "challenger", wanted, served.challenger)
        previous = served.champion if champion is not served.champion else served.previous
        return replace(served, champion=champion, challenger=challenger, previous=previous)

    def _model(self, served: Served, role: str, version: str | None, loaded: LoadedModel | None) -> LoadedModel | None:
        if version is None:
            return None if role == "challenger" else loaded
        if loaded is not None and loaded.version == version:
            return loaded
        try:
            model = _in_memory(served, version) or self._download(served.cfg, version)
        except (DriftloopError, MlflowException, OSError) as exc:
            if served.refused.get(version) != str(exc):
                log.error("%s v%s of %s not swapped in: %s", role, version, served.cfg.name, exc)
                self.metrics.refused.labels(served.cfg.name).inc()
            served.refused[version] = str(exc)
            return loaded
        log.info("%s of %s is now v%s (was %s)", role, served.cfg.name, version, loaded.version if loaded else "none")
        self.metrics.swaps.labels(served.cfg.name, role).inc()
        return model

    def _download(self, cfg: DatasetConfig, version: str) -> LoadedModel:
        model = load_model(cfg, version)
        self.metrics.downloads.labels(cfg.name).inc()
        return model


def _in_memory(served: Served, version: str) -> LoadedModel | None:
    """The version if this dataset already holds it (verified when it was loaded), whatever role it had."""
    return next((m for m in (served.challenger, served.champion, served.previous) if m and m.version == version), None)


def _policy(block: ServingPolicy | None) -> ServingPolicyFields:
    """The policy's fields, or the defaults for a dataset without a serving policy document."""
    if block is None:
        return ServingPolicyFields()
    return ServingPolicyFields.model_validate(block.model_dump(include=set(ServingPolicyFields.model_fields)))
