"""A long story on a stack of its own: a confirmed recession retrains v2, a rollback restores v1, and when v1 meets the
recession again minutes later its first confirmed drift retrains within 60 s: the previous episode's cooldown, keyed
by model and tenure, does not swallow it. (Long rather than faulty: it lives in `make chaos` to keep `make test`
within its time.)"""

from __future__ import annotations

import pytest

from blocks.settings import Settings
from tasks.model.registry import champion_version
from tests.durable_fixture import champion_dataset, run_and_wait
from tests.flows.test_loop import confirmed_drift

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def test_drift_after_a_rollback_retrains_within_a_minute_of_the_confirmed_drift_event(api: Settings) -> None:
    cfg = champion_dataset("credit-rollback", "credit-risk-rollback", seed=500)
    first = champion_version(cfg)
    confirmed_drift(seed=510, first_day=40, dataset=cfg.name)
    second = champion_version(cfg)
    assert second is not None and second != first

    # when: the champion is rolled back, and the old champion meets the shifted regime again minutes later
    run_and_wait("rollback", dataset=cfg.name)
    assert champion_version(cfg) == first
    drift, again = confirmed_drift(seed=520, first_day=50, dataset=cfg.name)

    # then: the new tenure's first confirmed drift retrains at once; the last episode's cooldown does not swallow it
    assert drift.payload["champion_version"] == first
    assert again.start_time is not None and (again.start_time - drift.occurred).total_seconds() < 60
    assert again.state is not None and (again.state.message or "").startswith("retrained"), again.state
