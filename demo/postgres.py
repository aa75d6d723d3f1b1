"""A throwaway PostgreSQL server: the operational store for tests, benchmarks and
``make demo-postgres``, started from the machine's own PostgreSQL binaries (Debian's
``postgresql`` package; ``make postgres`` installs it when missing).

``initdb`` into a fresh directory, ``pg_ctl start`` on a free loopback port (TCP only, no
Unix socket), trust authentication for loopback connections, one database. Nothing is
downloaded. PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` user the package creates, in a directory it owns.

    with LocalPostgres() as server:
        os.environ["SMS_POSTGRES_DSN"] = server.dsn
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "sms"
DATABASE = "sms"


class PostgresNotInstalled(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest installed server's binaries (``initdb`` is not on Debian's PATH)."""
    found = shutil.which("pg_ctl")
    if found and Path(found).with_name("initdb").exists():
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not candidates:
        raise PostgresNotInstalled(
            "no PostgreSQL server binaries (initdb) found: `make postgres` installs Debian's "
            "postgresql package"
        )
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """A PostgreSQL server in a temporary directory, stopped and removed on exit.

    ``durable=False`` (tests) turns fsync and synchronous commit off: the data dies with
    the directory anyway. Benchmarks keep the defaults, so their figures include the
    commit cost a real server pays.
    """

    def __init__(self, *, durable: bool = True, base: str | Path | None = None) -> None:
        self.durable = durable
        self.base = Path(base) if base else None
        self.port = 0
        self.dir: Path | None = None
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(
                f"{Path(command[-len(args)]).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done

    def start(self) -> LocalPostgres:
        binaries = bin_dir()
        # Under root, a directory the postgres user can reach (pytest's are root-only).
        self.dir = Path(tempfile.mkdtemp(prefix="sms-postgres-", dir=self.base))
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run(
            binaries / "initdb", "-D", data, "-U", USER, "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-instructions",
        )  # fmt: skip
        options = [
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
            "-c TimeZone=UTC",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        for _ in range(5):  # a port taken between choosing and binding: choose again
            self.port = free_port()
            try:
                self._run(
                    binaries / "pg_ctl", "-D", data, "-l", self.dir / "server.log", "-w",
                    "-t", "60", "-o", " ".join([f"-p {self.port}", *options]), "start",
                )  # fmt: skip
                break
            except RuntimeError:
                if "could not bind" not in self.log():
                    raise
        else:
            raise RuntimeError(f"PostgreSQL did not start: {self.log()[-2000:]}")
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://{USER}@127.0.0.1:{self.port}/postgres", autocommit=True
                ) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log(self) -> str:
        path = self.dir / "server.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.dir is None:
            return
        data = self.dir / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already gone; the directory goes anyway
                self._run(bin_dir() / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
