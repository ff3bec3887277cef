"""Errors raised by tsns.

Every error carries a one-line message that says what went wrong *and* how to fix
it, so that a failing DVC stage or CLI call ends with an actionable line instead
of a traceback deep inside a library.
"""
from __future__ import annotations


class TSNSError(Exception):
    """Base class: a user-facing error with a one-line message naming the fix."""


class ConfigError(TSNSError, ValueError):
    """A parameter is unknown, missing or out of its valid range."""


class DataUnavailableError(TSNSError):
    """A dataset cannot be obtained from any configured source."""


class ChecksumError(TSNSError):
    """A file's content does not match the checksum recorded for it."""


class ActivationFileError(TSNSError):
    """An activation file is truncated, corrupt or does not match its sidecar."""


class ModelUnavailableError(TSNSError):
    """A model cannot be loaded (unknown id, or not available offline)."""


class TargetLeakError(TSNSError):
    """Data of the transfer target would reach selection, tuning or training."""
