"""A project's fitted files kept in a server store, so that a replica on a fresh machine, with an empty
directory and only the store's URL, serves what the machine that fitted them serves.

What is kept: ``llm4tag.toml`` (``config``), the calibration files (``calibration``) and each learned recall
path (``learned/<name>``), each directory packed as one tar archive with its sha256. The graph's own files are
not: a replica rebuilds them from the vectors cached in the store, without encoding anything. A pulled
directory replaces the local one whole (a reader sees the old set or the new one), and ``.from-store`` in it
records which version it is, so an unchanged one is not pulled again."""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
from pathlib import Path

from llm4tag.fileio import atomic_write, replace_directory
from llm4tag.store.base import Store

log = logging.getLogger(__name__)

MARKER = ".from-store"  # in a pulled (or pushed) directory: the sha256 of the archive it matches


def pack(directory: Path) -> bytes:
    """The files of ``directory`` (not its hidden ones), in a stable order, as a gzip'd tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            relative = path.relative_to(directory)
            if any(part.startswith(".") for part in relative.parts):
                continue
            info = archive.gettarinfo(str(path), arcname=str(relative))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def push_directory(store: Store, name: str, directory: Path, about: dict | None = None) -> None:
    if not store.shares_files or not directory.is_dir():
        return
    digest = store.put_artifact(name, pack(directory), about)
    (directory / MARKER).write_text(digest, encoding="utf-8")


def pull_directory(store: Store, name: str, directory: Path) -> bool:
    """Bring ``directory`` to the version the store keeps under ``name``; whether it changed."""
    if not store.shares_files:
        return False
    digest = store.artifact_digest(name)
    if digest is None or _local_digest(directory) == digest:
        return False
    kept = store.get_artifact(name)
    if kept is None:
        return False
    data, digest, _ = kept
    staging = directory.with_name(directory.name + ".pulling")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(staging, filter="data")  # names stay inside it: no absolute paths, links or devices
    (staging / MARKER).write_text(digest, encoding="utf-8")
    replace_directory(staging, directory)
    log.info("%s pulled from the store (%s)", directory, name)
    return True


def _local_digest(directory: Path) -> str | None:
    try:
        return (directory / MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def push_file(store: Store, name: str, path: Path) -> None:
    if store.shares_files and path.is_file():
        store.put_artifact(name, path.read_bytes())


def pull_file(store: Store, name: str, path: Path) -> bool:
    """Write the file the store keeps under ``name`` to ``path`` where it is missing; whether it did."""
    if not store.shares_files or path.exists():
        return False
    kept = store.get_artifact(name)
    if kept is None:
        return False
    with atomic_write(path, "wb") as handle:
        handle.write(kept[0])
    return True
