"""Flow parameters carry their bounds in the deployment's schema: an out-of-range value is refused when the run is
created, with the parameter named, not deep inside the run."""

from __future__ import annotations

import pytest
from prefect.deployments import run_deployment
from prefect.exceptions import ParameterTypeError, PrefectHTTPStatusError

from flows.reconcile import reconcile
from flows.simulate import simulate

pytestmark = pytest.mark.integration


def test_a_negative_batch_count_is_refused_when_the_run_is_created(prefect_api: None) -> None:
    simulate.to_deployment(name="bounds").apply()
    with pytest.raises(PrefectHTTPStatusError, match="batches") as refused:
        run_deployment("simulate/bounds", parameters={"batches": -1}, timeout=0)
    assert refused.value.response.status_code in {409, 422}


def test_called_directly_the_flows_refuse_out_of_range_values_before_running(prefect_api: None) -> None:
    with pytest.raises(ParameterTypeError, match="batches"):
        simulate(batches=0)
    with pytest.raises(ParameterTypeError, match="grace_minutes"):
        reconcile(grace_minutes=-1)
