"""driftloop's exceptions. Gates collect every violation and raise one of these, carrying the numbers.

DriftloopError
├── ConfigurationError     a block, contract or parameter is missing or inconsistent
├── ContractViolation      a frame breaks its dataset's Pandera contract (never retried)
├── CorruptObject          a landed object cannot be read as parquet or CSV (never retried)
│   └── PoisonObject       ingesting a landed object failed unexpectedly too many times
├── IntegrityError         a model version's files differ from their registered SHA-256 manifest (never retried)
├── InsecureStore          the object store ignores conditional writes, on which every exactly-once rests
├── NotEnoughData          a window holds too few labelled rows to train or to hold out
├── IngestFailures         an ingest run quarantined objects or could not ingest some (its Failed state carries all)
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


class PoisonObject(CorruptObject):
    """Ingesting a landed object failed unexpectedly as many times as allowed; it is quarantined with the error."""


class IntegrityError(DriftloopError):
    """A registered version's files do not match the manifest recorded at registration."""


class InsecureStore(DriftloopError):
    """The object store accepted a second `If-None-Match: *` write of one key: conditional writes are ignored."""


class NotEnoughData(DriftloopError):
    """Too few labelled rows to train or to hold out."""


class IngestFailures(DriftloopError):
    """An ingest run quarantined objects, failed on some, or skipped a dataset; `outcomes` holds every object's."""

    def __init__(self, message: str, outcomes: list[Any]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class StaleChampion(DriftloopError):
    """The champion changed between evaluation and the alias move."""
