"""`driftloop`: the command line of the local stack.

Adding a subcommand is one `_cmd_<name>(args, settings) -> int` function and one `_add(...)` line in `build_parser`.
Settings (ports, home, bucket) come from DRIFTLOOP_* variables; flags only select what to do.
`demo`, `history` and `reindex` import MLflow and LightGBM when they run, so the stack commands answer in seconds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError

from blocks import names
from blocks.settings import PROJECT_ROOT, Settings, get_settings
from deployments.stack import environment, lifecycle, status
from deployments.stack.environment import stack_api
from deployments.stack.services import ServiceError
from deployments.stack.state import StackError
from tasks.platform.errors import DriftloopError

Command = Callable[[argparse.Namespace, Settings], int]


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    lifecycle.up(settings, print, project_dir=args.project_dir, redeploy=args.redeploy)
    print(
        f"driftloop is up: Prefect UI http://{settings.host}:{settings.prefect_port}, MLflow "
        f"{settings.resolved_mlflow_uri}, S3 {settings.resolved_s3_endpoint}, logs in {settings.home / 'logs'}"
    )
    return 0


def _cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    lifecycle.down(settings, print, purge=args.purge)
    return 0


def _cmd_status(_args: argparse.Namespace, settings: Settings) -> int:
    components = status.status(settings)
    for component in components:
        pid = str(component.pid) if component.pid else "-"
        health = "healthy" if component.healthy else ("unhealthy" if component.pid else "not running")
        print(f"{component.name:<8} {health:<12} pid {pid:<8} {component.url}")
    return 0 if all(component.healthy for component in components) else 1


def _cmd_env(_args: argparse.Namespace, settings: Settings) -> int:
    print(environment.shell_exports(settings))
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from deployments import demo

    _cmd_up(args, settings)
    demo.main(settings)
    return 0


def _cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare the Prefect server PREFECT_API_URL names (not the local stack) for driftloop's deployments and, if
    asked, the bucket's retention of landing/ and reports/ (first: a store that refuses it stops init)."""
    from blocks.register import register_block_types, save_defaults
    from deployments.bucket import retention
    from deployments.stack import automations

    target = settings.model_copy(
        update={
            "bucket": args.bucket,
            "s3_endpoint_url": args.endpoint_url or "aws",
            "mlflow_tracking_uri": args.mlflow_uri,
            "region": args.region or settings.region,
        }
    )
    if args.retention_days is not None or args.report_retention_days is not None:
        print(retention.retain(target, args.retention_days, args.report_retention_days))
    register_block_types()
    saved = save_defaults(target, overwrite=args.overwrite, demo=False)
    print(f"block types registered; saved: {', '.join(saved) or 'nothing (every block exists; --overwrite replaces)'}")
    print("automations: " + ", ".join(f"{name} {what}" for name, what in automations.apply().items()))
    print(
        "next: `prefect variable set driftloop_code_dir <the code's directory on the workers> --overwrite`, "
        "save a 'driftloop Dataset' block per dataset, then `prefect --no-prompt deploy --all`"
    )
    return 0


def _cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.model import champions, history
    from tasks.platform.config import load_dataset

    with stack_api(settings):
        moves = champions.moves(history.read_log(load_dataset(args.dataset)))
    if not moves:
        print(f"{args.dataset}: no champion yet")
    for move in moves:
        print(move.describe())
    return 0


def _cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.data.lake_index import reindex
    from tasks.platform.config import load_dataset

    with stack_api(settings):
        index = reindex(load_dataset(args.dataset).store, args.dataset)
    older = f"; pages of {index.page_size} hold the older ones" if index.newest_page else ""
    print(f"{args.dataset}: the index head holds the newest {len(index.batches)} batches{older}")
    return 0


def _cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.model.steps.approval import answer

    with stack_api(settings):
        answer(args.flow_run, approve=not args.reject, reason=args.reason)
    print(f"{'rejected' if args.reject else 'approved'}: flow run {args.flow_run} goes on")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftloop", description="driftloop's local stack and demo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def _add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    up = _add("up", _cmd_up, "Start S3, MLflow, Prefect and a worker on 127.0.0.1, then deploy the flows.")
    up.add_argument("--redeploy", action="store_true", help="Deploy even if prefect.yaml and the flows are unchanged.")
    up.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="Directory holding prefect.yaml.")
    down = _add("down", _cmd_down, "Stop the processes `up` started; data stays in the home directory.")
    down.add_argument("--purge", action="store_true", help="Also delete the home directory (all local data).")
    _add("status", _cmd_status, "Show each component's URL, pid and health; exit 1 unless all are healthy.")
    _add("env", _cmd_env, 'Print the variables a shell needs to use the stack: eval "$(driftloop env)".')
    play = _add("demo", _cmd_demo, "Start the stack and play the whole story through deployments and automations.")
    play.add_argument(
        "--redeploy", action="store_true", help="Deploy even if prefect.yaml and the flows are unchanged."
    )
    play.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="Directory holding prefect.yaml.")
    init = _add(
        "init",
        _cmd_init,
        "Register driftloop's block types and save its configuration blocks on the Prefect "
        "server PREFECT_API_URL names (production); AWS credentials come from the environment.",
    )
    init.add_argument("--bucket", required=True, help="Bucket for landing/, lake/, predictions/, reports/, registry/.")
    init.add_argument("--mlflow-uri", required=True, help="MLflow tracking URI the flows log and register to.")
    init.add_argument("--endpoint-url", default="", help="S3-compatible endpoint; empty means AWS S3.")
    init.add_argument("--region", default="", help="Region of the bucket (default us-east-1).")
    init.add_argument("--overwrite", action="store_true", help="Replace blocks that exist (edits made in the UI).")
    retention_help = "Expire {} after {} days by a bucket lifecycle rule (see deployments/bucket/lifecycle.json)."
    init.add_argument("--retention-days", type=int, metavar="N", help=retention_help.format("landing/ objects", "N"))
    init.add_argument("--report-retention-days", type=int, metavar="M", help=retention_help.format("reports/", "M"))
    approve = _add("approve", _cmd_approve, "Answer a promotion waiting for approval (Paused), as the UI's form does.")
    approve.add_argument("flow_run", type=UUID, help="Id of the paused promote run (in the notification's link).")
    approve.add_argument("--reject", action="store_true", help="Reject the challenger instead of approving it.")
    approve.add_argument("--reason", required=True, help="Why; recorded in the champion's history.")
    history = _add("history", _cmd_history, "Show every move of a dataset's champion alias, oldest first.")
    history.add_argument("dataset", nargs="?", default=names.DEMO_DATASET, help="Dataset block name.")
    reindex = _add("reindex", _cmd_reindex, "Rebuild a dataset's lake index head from every batch's metadata.")
    reindex.add_argument("dataset", nargs="?", default=names.DEMO_DATASET, help="Dataset block name.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args, get_settings())
    except (ServiceError, StackError, DriftloopError, ValidationError) as exc:  # ValidationError: DRIFTLOOP_* settings
        print(f"driftloop {args.command} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
