"""`make demo`: the whole driftloop story on the local stack, told through deployments and automations.

Every step is a `prefect deployment run` (printed, so it can be replayed by hand); everything after a landing happens by
itself through the automations in prefect.yaml. The stack is left running for exploring the UIs.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

from blocks import names
from blocks.models import PromotionPolicy
from blocks.settings import Settings
from deployments.demo_serving import online
from deployments.stack.environment import stack_api, stack_environment
from deployments.stack.services import BIN
from deployments.watch.runs import wait_for_runs
from tasks.model import champions, history
from tasks.model.registry import champion_version
from tasks.platform.artifacts import artifact_key
from tasks.platform.config import load_block, load_dataset

DATASET = names.DEMO_DATASET
ROWS = 12_000
# Two big baseline batches: the same first training window as eight small ones, with a quarter of the flow runs.
BASELINE_BATCHES, BASELINE_ROWS = 2, 48_000
# The demo's promotion policy judges customers by sex (the dataset's sensitive column, never a feature) and region,
# deciding at a score of 0.2 (where a lender would decline). Equalized odds is bounded looser than parity: its
# true-positive rates rest on a few hundred defaulters per group.
FAIRNESS = {
    "slice_columns": ["applicant_sex", "region"],
    "decision_threshold": 0.2,
    "max_parity_difference": 0.1,
    "max_equalized_odds_difference": 0.15,
}


def run_deployment(settings: Settings, flow: str, **parameters: object) -> None:
    """Run a deployment through the CLI and wait for it, exactly as a user would from a shell."""
    shown = [f"'{flow}/driftloop'"] + [f"-p {key}={value}" for key, value in parameters.items()]
    print("  $ prefect deployment run " + " ".join(shown))
    args = [f"{BIN / 'prefect'}", "deployment", "run", f"{flow}/driftloop", "--watch", "--watch-timeout", "600"]
    args += ["--watch-interval", "1"]  # the default 5 s poll adds seconds to every step
    for key, value in parameters.items():
        args += ["-p", f"{key}={value}"]
    env = stack_environment(settings)
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def land(settings: Settings, scenario: str, batches: int, seed: int, first_day: int, rows: int = ROWS) -> datetime:
    since = datetime.now(UTC)
    run_deployment(
        settings,
        "simulate",
        dataset=DATASET,
        scenario=scenario,
        batches=batches,
        rows=rows,
        seed=seed,
        first_day=first_day,
    )
    return since


def chain(flow: str, count: int, since: datetime) -> str:
    runs = wait_for_runs(flow, count, since, timeout=420)
    states = sorted({r.state.name if r.state and r.state.name else "?" for r in runs})
    return f"{len(runs)} {flow} run(s): {', '.join(states)}"


def story(settings: Settings) -> None:
    started = datetime.now(UTC)
    # Fresh data on every play: the lake keeps what earlier stories landed, and the same bytes again would be
    # recognised as duplicates (rightly) and start nothing.
    seed = int(started.timestamp()) % 100_000 * 10
    earlier = champion_version(load_dataset(DATASET))
    print(f"1. {BASELINE_BATCHES} baseline batches land; the automation ingests each one.")
    since = land(settings, "baseline", BASELINE_BATCHES, seed=seed + 1, first_day=0, rows=BASELINE_ROWS)
    print("  ", chain("ingest", BASELINE_BATCHES, since))
    scored = chain("score", BASELINE_BATCHES, since)
    if earlier is None:
        print("   Scoring waits for a first champion (each score run completes saying there is none yet):", scored)
    else:
        print(f"   v{earlier}, the champion an earlier story left, scores them:", scored)
    print("2. Train the first model and promote it; the gates judge each sex and region too.")
    judge_fairness()
    run_deployment(settings, "train", dataset=DATASET)
    run_deployment(settings, "promote", dataset=DATASET)
    cfg = load_dataset(DATASET)
    print(f"   champion is now v{champion_version(cfg)} (a challenger that does not beat the champion is rejected)")
    for line in fairness_table():
        print(f"   {line}")
    # Steps 3 and 4 do not depend on each other: their runs overlap, as batches from two sources would.
    print("3. Another baseline batch: ingest -> score -> monitor, all by automation; no drift.")
    since = land(settings, "baseline", 1, seed=seed + 2, first_day=2)
    print("4. A batch with quality problems lands: it is quarantined, the source object kept.")
    land(settings, "quality_issue", 1, seed=seed + 3, first_day=3)
    print("   step 3:", chain("monitor", 1, since))
    print("   step 4:", chain("ingest", 2, since))
    print("5. One batch from a single segment (an export ordered by region): drift, not confirmed, so no retrain.")
    since = land(settings, "segment_anomaly", 1, seed=seed + 6, first_day=4)
    print("  ", chain("monitor", 1, since))
    since = land(settings, "baseline", 1, seed=seed + 7, first_day=5)
    print("   The next ordinary batch is quiet and closes that drift as transient:", chain("monitor", 1, since))
    print("6. A recession arrives (sudden covariate shift); its second batch confirms it: retrain -> promotion.")
    since = land(settings, "covariate_shift_sudden", 1, seed=seed + 4, first_day=6)
    print("  ", chain("monitor", 1, since))
    land(settings, "covariate_shift_sudden", 1, seed=seed + 8, first_day=7)
    print("  ", chain("retrain", 1, since))
    print(f"   champion is now v{champion_version(cfg)}")
    retrain = wait_for_runs("retrain", 1, since, timeout=60)[-1]
    retrained = retrain.state is not None and (retrain.state.message or "").startswith("retrained")
    if not retrained:
        # A replay within a day can meet the retrain budget (3 attempts per 24 h): the loop says so and stops.
        print(f"   no retrain this time: {retrain.state.message if retrain.state else 'no state'}")
    if retrained:
        print("7. The recession goes on; the new champion's reference matches it, so monitoring stays quiet.")
    else:
        print("7. The recession goes on; with no new champion, monitoring keeps reporting the drift.")
    since = land(settings, "covariate_shift_sudden", 1, seed=seed + 5, first_day=8)
    print("  ", chain("monitor", 1, since))
    print("8. Roll back to the previous champion; scoring uses it again.")
    if len(champions.chain(history.read_log(cfg))) > 1:
        run_deployment(settings, "rollback", dataset=DATASET)
        print(f"   champion is now v{champion_version(cfg)}")
    else:
        print("   nothing to roll back to: the champion has no predecessor in its history")
    print("9. The model server answers online; a new challenger answers a 20% canary, chosen by applicant id.")
    since = online(settings, DATASET, lambda: run_deployment(settings, "train", dataset=DATASET), seed + 9)
    print("   The requests are landed as a micro-batch and the loop takes them:", chain("monitor", 1, since))
    summary(settings, cfg.model_name, started)


def judge_fairness() -> None:
    """Have the promotion policy judge the demo's slices, unless someone already chose slices of their own."""
    policy = load_block(PromotionPolicy, names.PROMOTION_POLICY)
    if not policy.slice_columns:
        chosen = policy.model_copy(update=FAIRNESS).model_dump(exclude={"block_type_slug"})
        PromotionPolicy(**chosen).save(names.PROMOTION_POLICY, overwrite=True)


def fairness_table() -> list[str]:
    """The newest promotion's gate rows about applicant_sex, from its `promotion-<dataset>` table."""
    latest = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[artifact_key("promotion", DATASET)]))
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(artifact_filter=latest, limit=1)
    data = found[0].data if found else None
    rows: list[dict[str, Any]] = json.loads(data) if isinstance(data, str) else []
    mark = {True: "pass", False: "FAIL"}
    return [f"{mark[row['passed']]}  {row['gate']}: {row['detail']}" for row in rows if "applicant_sex" in row["gate"]]


def summary(settings: Settings, model: str, started: datetime) -> None:
    cfg = load_dataset(DATASET)
    print("\nChampion history:")
    for move in champions.moves(history.read_log(cfg)):
        print(f"   {move.describe()}")
    print(f"\nThe story took {(datetime.now(UTC) - started).total_seconds():.0f}s. Explore it:")
    ui = f"http://{settings.host}:{settings.prefect_port}"
    print(f"   Flow runs:   {ui}/runs")
    print(f"   Event feed:  {ui}/events")
    print(f"   Automations: {ui}/automations")
    print(f"   Artifacts:   {ui}/artifacts")
    print(f"   Model API:   http://{settings.host}:{settings.serve_port}/docs")
    print(f"   MLflow:      {settings.resolved_mlflow_uri}/#/models/{model}")
    print("Stop the stack with `make down`.")


def main(settings: Settings) -> None:
    with stack_api(settings):
        story(settings)
