"""driftloop's exceptions. Gates collect every violation and raise one of these, carrying the numbers.

DriftloopError
├── ConfigurationError     a block, contract or parameter is missing or inconsistent
├── ContractViolation      a frame breaks its dataset's Pandera contract (never retried)
├── CorruptObject          a landed object cannot be read as parquet or CSV (never retried)
├── IntegrityError         a model version's files differ from their registered SHA-256 manifest (never retried)
├── InsecureStore          the object store ignores conditional writes, on which every exactly-once rests
├── NotEnoughData          a window holds too few labelled rows to train or to hold out
├── Quarantined            an ingest run sent objects to quarantine (its Failed state carries every outcome)
└── StaleChampion          the champion moved while a promotion was being decided
"""

from __future__ import annotations

from typing import Any


class DriftloopError(Exception):
    """Base of every error driftloop raises on purpose."""


class ConfigurationError(DriftloopError):
    """A block, contract or parameter is missing or inconsistent."""


class ContractViolation(DriftloopError):
    """A frame breaks its dataset's contract; `summary` holds the failing checks, columns and counts."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class CorruptObject(DriftloopError):
    """A landed object cannot be read as parquet or CSV."""


class IntegrityError(DriftloopError):
    """A registered version's files do not match the manifest recorded at registration."""


class InsecureStore(DriftloopError):
    """The object store accepted a second `If-None-Match: *` write of one key: conditional writes are ignored."""


class NotEnoughData(DriftloopError):
    """Too few labelled rows to train or to hold out."""


class Quarantined(DriftloopError):
    """An ingest run quarantined objects; `outcomes` holds what happened to every object of the run."""

    def __init__(self, message: str, outcomes: list[Any]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class StaleChampion(DriftloopError):
    """The champion changed between evaluation and the alias move."""
