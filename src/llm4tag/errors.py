"""Errors that users can act on.

Every error a user can cause (bad file, bad field, bad config) is an
``InputError`` that names the file, line and field, and says what was
expected. The CLI prints these as one line and exits non-zero, never a
traceback.
"""

from __future__ import annotations

from pathlib import Path


class Llm4tagError(Exception):
    """Base class for every error llm4tag raises on purpose."""


class InputError(Llm4tagError):
    """Something in a user's input is wrong; the message says where and why."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ":".join(where[:1]) + (", " + ", ".join(where[1:]) if len(where) > 1 else "")
        return f"{prefix}: {self.reason}" if prefix else self.reason


class ConfigError(Llm4tagError):
    """The project configuration is missing or invalid."""


class ProjectError(Llm4tagError):
    """The project directory is missing, incomplete or in an unexpected state."""


class StorageError(Llm4tagError, OSError):
    """A file could not be written (a full disk, a read-only mount, a directory this user may not write); the
    message names the path and what to do. Still an ``OSError``, so code that handles those keeps working."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    def __str__(self) -> str:
        return self.args[0]


class StoreUnavailable(StorageError):
    """The store's server cannot be reached now; the operation was not done (nothing half-written): try again."""


def os_error_message(exc: OSError, path: object = None, *, writing: bool = True) -> str:
    """One line for an ``OSError`` met on ``path`` (default: the error's own file name); ``writing``: say that
    it could not be written (the caller knows), else only the path and the cause."""
    import errno

    where = path or exc.filename or "a file"
    hints = {
        errno.ENOSPC: "the disk is full: free some space and run the command again",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is mounted read-only",
        errno.EACCES: "this user may not write there",
        errno.EPERM: "this user may not write there",
    }
    hint = hints.get(exc.errno)
    what = f"cannot write {where}" if writing else str(where)
    return f"{what}: {exc.strerror or exc}" + (f" ({hint})" if hint else "")


class BackendError(Llm4tagError):
    """A model backend (embedding or LLM) failed after its retries."""
