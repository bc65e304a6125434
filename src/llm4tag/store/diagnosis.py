"""What went wrong with a store, in words a user can act on: a full disk, a lock held by another process
(named), damage, a file that is no SQLite database."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path


def store_error_message(path: Path, exc: Exception, *, opening: bool = False) -> str:
    """One line for a SQLite error, by its real cause: a full disk, a lock another process holds, a read-only
    file or mount, a permission, an I/O error, or damage (confirmed by ``quick_check`` before it is called
    damage). ``opening``: the error came while opening the store, before anything was written."""
    code = getattr(exc, "sqlite_errorname", None) or ""
    base = code.split("_")[0:2]
    kind = "_".join(base) if code else ""
    changed = (
        "Nothing was changed."
        if opening
        else "What the command had committed before this error stays; the step that failed was not written."
    )
    if kind in ("SQLITE_IOERR", "SQLITE_CANTOPEN") and _disk_full(path):  # SQLite says I/O where write() said ENOSPC
        kind = "SQLITE_FULL"
    if kind == "SQLITE_FULL":
        return f"the disk holding {path} is full ({exc}). {changed} Free some space and run the command again"
    if kind in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        holders = _processes_holding(path)
        held = f" (held by {holders})" if holders else " (another llm4tag command or service)"
        return f"{path} is locked by another process{held}. {changed} Wait for it to finish, or stop it, and retry"
    if kind == "SQLITE_READONLY":
        return (
            f"{path} cannot be written: the file or its directory is read-only ({exc}). {changed} Make it"
            " writable (a read-only mount, or permissions), or work on a copy"
        )
    if kind in ("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"):
        return (
            f"{path} cannot be opened ({exc}): check that it exists and that this user may read and write it and"
            f" its directory. {changed}"
        )
    if kind == "SQLITE_IOERR":
        return f"I/O error on {path} ({exc}): the disk or file system failed. {changed} Check the disk and retry"
    missing_schema = kind == "SQLITE_ERROR" and ("no such table" in str(exc) or "no such column" in str(exc))
    if kind and kind not in ("SQLITE_CORRUPT", "SQLITE_NOTADB") and not missing_schema and _looks_whole(path):
        return f"{path}: {exc}. {changed}"  # not damage: SQLite's own check finds the file whole
    return (
        f"{path} is damaged or not an llm4tag store ({exc}). {changed} Restore it from a backup;"
        " SQLite's '.recover' command (sqlite3 store.sqlite .recover) can often save what is left"
    )


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(Path(path).parent).free < 64 * 1024
    except OSError:
        return False


def _looks_whole(path: Path) -> bool:
    """Whether SQLite's own ``quick_check`` finds the file whole (so an error is not called damage unproven)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return [row[0] for row in conn.execute("PRAGMA quick_check(1)")] == ["ok"]
    except sqlite3.Error:
        return False


def _processes_holding(path: Path) -> str:
    """``pid N (command)`` for the other processes that have ``path`` open (Linux /proc; empty elsewhere)."""
    found = []
    target = str(Path(path).resolve())
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return ""
    for pid in pids:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"pid {pid} ({command.strip()[:80]})")
        except OSError:
            continue
    return ", ".join(found[:3])
