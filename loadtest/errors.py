"""The one exception of the load-test tools, with a stable code per failure."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LoadTestError", "LoadTestErrorCode"]


class LoadTestErrorCode(StrEnum):
    """Why a load-test command could not do its job (not: why a run failed its goals)."""

    PLAN_INVALID = "plan_invalid"
    TARGET_NOT_LOOPBACK = "target_not_loopback"
    FEDERATION_UNREADABLE = "federation_unreadable"
    PREPARE_FAILED = "prepare_failed"
    GOALS_INVALID = "goals_invalid"
    LOCUST_FAILED = "locust_failed"
    STATS_MISSING = "stats_missing"


class LoadTestError(Exception):
    """A load-test command was given something it cannot use; the message says what to do."""

    def __init__(self, code: LoadTestErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
