"""Drift episodes as monitoring sees them, pure: which drifted batches belong together, and when drift is confirmed.

Every checked batch of a champion's tenure is marked `quiet`, `drifted`, or `strong` (drifted with a labelled AUC drop
of at least `confirm_performance_drop`). In ingest order, consecutive drifted batches form an episode. It is
*confirmed*, and only then retrained, once it holds `confirm_batches` batches or one `strong` batch: one unusual batch
(an upstream export of a single segment, say) never re-anchors the model. A quiet batch right after an unconfirmed
episode closes it as *transient*. The onset is the episode's first batch, whatever order the checks ran in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Mark = Literal["quiet", "drifted", "strong"]


class CheckMark(BaseModel):
    batch_id: str
    mark: Mark


class EpisodeView(BaseModel):
    """What one check means for its tenure's drift: the episode it belongs to, or the transient one it closed."""

    onset_batch_id: str | None = None
    batches: list[str] = []
    confirmed: bool = False
    transient: list[str] = []  # an unconfirmed episode this quiet batch closed


class Episode(EpisodeView):
    """The episode view of one check, with the champion tenure it belongs to."""

    tenure: int


def mark_of(drifted: bool, strong_drop: bool) -> Mark:
    return "strong" if drifted and strong_drop else "drifted" if drifted else "quiet"


def parse_marks(keys: list[str]) -> list[CheckMark]:
    """Marks from `<ingested>-<batch_id>.<mark>` key names, in ingest order."""
    names = sorted(key.rsplit("/", 1)[-1] for key in keys)
    return [
        CheckMark(batch_id=name.rsplit(".", 1)[0].rsplit("-", 1)[-1], mark=name.rsplit(".", 1)[-1]) for name in names
    ]


def episode_at(marks: list[CheckMark], batch_id: str, confirm_batches: int) -> EpisodeView:
    """The episode the batch belongs to (the run of drifted batches around it), or, for a quiet batch, the
    unconfirmed episode just before it that it closes as transient."""
    index = next(i for i, m in enumerate(marks) if m.batch_id == batch_id)
    if marks[index].mark == "quiet":
        before = _run(marks, index - 1) if index else []
        confirmed = _confirmed(before, confirm_batches)
        return EpisodeView(transient=[] if confirmed else [m.batch_id for m in before])
    run = _run(marks, index)
    return EpisodeView(
        onset_batch_id=run[0].batch_id, batches=[m.batch_id for m in run], confirmed=_confirmed(run, confirm_batches)
    )


def confirmed_onset(marks: list[CheckMark], confirm_batches: int) -> str | None:
    """The first batch of the newest confirmed episode of the tenure, or None when none is confirmed."""
    index = len(marks) - 1
    while index >= 0:
        run = _run(marks, index)
        if run and _confirmed(run, confirm_batches):
            return run[0].batch_id
        index -= max(len(run), 1)
    return None


def _run(marks: list[CheckMark], index: int) -> list[CheckMark]:
    """The consecutive drifted marks around `index` (empty when that mark is quiet)."""
    if index < 0 or marks[index].mark == "quiet":
        return []
    start, end = index, index
    while start > 0 and marks[start - 1].mark != "quiet":
        start -= 1
    while end + 1 < len(marks) and marks[end + 1].mark != "quiet":
        end += 1
    return marks[start : end + 1]


def _confirmed(run: list[CheckMark], confirm_batches: int) -> bool:
    return bool(run) and (len(run) >= confirm_batches or any(m.mark == "strong" for m in run))
