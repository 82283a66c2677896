"""driftloop's exceptions. Gates collect every violation and raise one of these, carrying the numbers.

DriftloopError
├── ConfigurationError     a block, contract or parameter is missing or inconsistent
├── ContractViolation      a frame breaks its dataset's Pandera contract (never retried)
├── CorruptObject          a landed object cannot be read as parquet or CSV (never retried)
├── NoChampion             scoring or monitoring needs a champion and there is none yet
├── NotEnoughData          a window holds too few labelled rows to train or to hold out
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


class NoChampion(DriftloopError):
    """The model has no champion yet."""


class NotEnoughData(DriftloopError):
    """Too few labelled rows to train or to hold out."""


class StaleChampion(DriftloopError):
    """The champion changed between evaluation and the alias move."""
