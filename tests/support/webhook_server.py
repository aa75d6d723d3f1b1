"""The webhook receiver as a real process: ``python -m dagster_project.webhooks --port 0``.

    with ReceiverProcess(tmp_path, secret="...") as rx:
        rx.url            # http://127.0.0.1:<port>
        rx.events()       # every complete event line in the landing log, parsed
        rx.kill()         # SIGKILL, as a crash would

The process gets its own ``SMS_DATA_DIR`` (``tmp_path / "data"``), so its landing
log, link registry and secret are the test's alone. Its log goes to
``tmp_path / "receiver.log"``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster_project.contracts.eventlog import read_new

REPO = Path(__file__).resolve().parents[2]


class ReceiverProcess:
    def __init__(self, directory: Path, *, secret: str, env: dict | None = None) -> None:
        self.dir = Path(directory)
        self.data_dir = self.dir / "data"
        self.events_dir = self.data_dir / "webhooks" / "events"
        self.links_path = self.data_dir / "webhooks" / "links.jsonl"
        self.log_path = self.dir / "receiver.log"
        self.secret = secret
        self.env = {
            **os.environ,
            "SMS_DATA_DIR": str(self.data_dir),
            "SMS_WEBHOOK_SECRET": secret,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ReceiverProcess:
        self.dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.webhooks", "--port", "0"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"listening on "):
                self.port = int(line.rsplit(b":", 1)[1])
                break
            if not line and self.proc.poll() is not None:
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"receiver did not start: {self.log_path.read_text()[-2000:]}")
        self._wait_healthy(deadline)
        return self

    def _wait_healthy(self, deadline: float) -> None:
        import httpx

        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("receiver never answered /healthz")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> ReceiverProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def lines(self):
        if not self.events_dir.exists():
            return []
        return read_new(self.events_dir, {})[0]

    def events(self) -> list[dict]:
        return [line.event for line in self.lines()]

    def wait_events(self, predicate, n: int = 1, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events() if predicate(e)]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
