"""Background work of the model server and of its lander: follow the champion (events first, the alias at a short
interval as the fallback) and re-read the dataset and serving policy blocks now and then; in the lander, also land
the online log when due, and on shutdown what waits."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter

from blocks.settings import Settings
from deployments.serve.catalog import Catalog
from tasks.platform import events

log = logging.getLogger("driftloop.serve")
FLUSH_CHECK_SECONDS = 1.0
RECONNECT_SECONDS = 5.0
MOVES = [events.MODEL_PROMOTED, events.MODEL_ROLLED_BACK]


@asynccontextmanager
async def running(
    settings: Settings, catalog: Catalog, alias_seconds: float, land: Callable[[bool], object] | None = None
) -> AsyncIterator[None]:
    """The catalog kept current while the block runs (the aliases checked every `alias_seconds`, besides following
    events); `land(force)` is called every second and, forced, at the end."""
    await _guarded("first load", lambda: asyncio.to_thread(_load_all, catalog))
    loops = [
        _every(alias_seconds, "alias check", lambda: asyncio.to_thread(catalog.refresh_models)),
        _every(settings.serve_refresh_seconds, "block refresh", lambda: asyncio.to_thread(_load_all, catalog)),
        _follow_events(catalog),
    ]
    if land is not None:
        loops.append(_every(FLUSH_CHECK_SECONDS, "online log", lambda: asyncio.to_thread(land, False)))
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if land is not None:
            await _guarded("last flush", lambda: asyncio.to_thread(land, True))


def _load_all(catalog: Catalog) -> None:
    catalog.refresh_datasets()
    catalog.refresh_models()
    # What exists now lives as long as the process: left out of the collector's full passes, which would otherwise
    # walk the ~400,000 objects of Prefect, MLflow and boto for a quarter of a second, the GIL held, stalling every
    # request in flight (they were the p99).
    gc.collect()
    gc.freeze()


async def _every(seconds: float, what: str, step: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        await _guarded(what, step)


async def _guarded(what: str, step: Callable[[], Awaitable[object]]) -> None:
    """Run one step of a background loop; an error is logged and the loop goes on (the server keeps answering with
    what it has loaded: a Prefect or MLflow outage must not take serving down)."""
    try:
        await step()
    except Exception:
        log.exception("%s failed; retrying at the next interval", what)


async def _follow_events(catalog: Catalog) -> None:
    """A promotion or rollback reloads that dataset's models at once, without waiting for the alias check."""
    only = EventFilter(event=EventNameFilter(name=MOVES))
    while True:
        try:
            async with get_events_subscriber(filter=only) as subscriber:
                async for event in subscriber:
                    dataset = event.resource.get("driftloop.dataset")
                    await asyncio.to_thread(catalog.refresh_models, dataset)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("event subscription lost; reconnecting in %.0fs", RECONNECT_SECONDS, exc_info=True)
        await asyncio.sleep(RECONNECT_SECONDS)
