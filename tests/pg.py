"""A real PostgreSQL server for the tests: Debian's package (``scripts/postgres.sh`` installs it), a cluster
made in a temporary directory, listening on loopback on a free port, removed at the end of the session."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

SUPERUSER = "llm4tag"


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path, directory: Path, port: int, as_user: list[str]) -> None:
        self.bindir, self.directory, self.port, self.as_user = bindir, directory, port, as_user
        self._names = itertools.count()

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = _bindir()
        if bindir is None:
            pytest.skip("PostgreSQL is not installed (scripts/postgres.sh installs Debian's package)")
        directory = Path(tempfile.mkdtemp(prefix="llm4tag-postgres-"))
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the package's postgres user
            shutil.chown(directory, "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(bindir, directory, _free_port(), as_user)
        server._run("initdb", "-D", str(directory / "data"), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-sync")
        server.restart(first=True)
        return server

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / tool), *args], check=True, capture_output=True, text=True)

    def restart(self, *, first: bool = False) -> None:
        if not first:
            self.stop()
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-o", options, "-l", str(self.directory / "log"),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
