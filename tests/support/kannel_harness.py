"""A real Kannel on loopback: bearerbox, smsbox and fakesmsc from Debian's packages.

``make kannel`` installs ``kannel`` (bearerbox, smsbox) and ``kannel-extras``
(``/usr/lib/kannel/test/fakesmsc``) when bearerbox is missing. ``Kannel(dir)``
then writes a ``kannel.conf`` into ``dir`` with free loopback ports:

* core: admin port, smsbox port, internal DLR storage;
* one SMSC of type ``fake`` that ``fakesmsc`` connects to (it prints every
  message the SMSC hands it: ``Got message N: <from to type text>``);
* an smsbox with the sendsms HTTP interface and one ``sendsms-user``;

starts bearerbox, fakesmsc and smsbox (in that order, each logging into
``dir``), waits until the bearerbox status page shows the fake SMSC online and
the sendsms port answers, and stops all three (SIGTERM, then SIGKILL) on exit.
The fake SMSC acknowledges every message, so Kannel emits delivery reports of
type 8 (accepted by the SMSC) and 1 (delivered) to each message's ``dlr-url``.

    with Kannel(tmp_path) as kannel:
        kannel.sendsms_url, kannel.username, kannel.password
        kannel.received()   # what fakesmsc got, decoded

Replies from phones (mobile-originated messages): ``Kannel(dir, get_url=URL)``
makes the default ``sms-service`` fetch ``URL`` (Kannel's escapes filled in,
``omit-empty = true``: an empty answer sends no reply) instead of answering
"No service", and runs fakesmsc in its interactive mode, where
``kannel.inject(sender, receiver, text)`` types one message into it, as a
phone would send it. ``http_request_retry=N`` makes smsbox retry a dlr-url or
get-url request that failed (no answer, or a 5xx) up to N times, a second apart.

Also a CLI for trying it by hand: ``python tests/support/kannel_harness.py DIR`` starts
it, prints the sendsms URL and credentials, and runs until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

FAKESMSC_PATHS = ("/usr/lib/kannel/test/fakesmsc", "/usr/libexec/kannel/test/fakesmsc")
INSTALL_HINT = "Kannel is not installed: run `make kannel` (apt-get install kannel kannel-extras)"

_GOT = re.compile(r"Got message (\d+): <(\S+) (\S+) (\S+) (.*)>\s*$")


def binaries() -> dict[str, str] | None:
    """Paths of bearerbox, smsbox and fakesmsc; None when any is missing."""
    found = {
        "bearerbox": shutil.which("bearerbox") or _exe("/usr/sbin/bearerbox"),
        "smsbox": shutil.which("smsbox") or _exe("/usr/sbin/smsbox"),
        "fakesmsc": shutil.which("fakesmsc") or next(filter(None, map(_exe, FAKESMSC_PATHS)), None),
    }
    return found if all(found.values()) else None


def _exe(path: str) -> str | None:
    return path if os.access(path, os.X_OK) else None


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class FakeSms:
    """One message as fakesmsc received it from the fake SMSC."""

    sender: str
    to: str
    coding: str  # "text", "ucs-2", "data", "udh-..."
    text: str


class Kannel:
    username = "pipeline"
    password = "loopback-only"
    admin_password = "admin-loopback"

    def __init__(
        self,
        directory: Path | str,
        *,
        log_level: int = 1,
        get_url: str | None = None,
        http_request_retry: int = 0,
    ) -> None:
        found = binaries()
        if found is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.bin = found
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_level = log_level
        self.get_url = get_url
        self.http_request_retry = http_request_retry
        self.admin_port, self.box_port, self.smsc_port, self.sendsms_port = free_ports(4)
        self.conf = self.dir / "kannel.conf"
        self.fakesmsc_out = self.dir / "fakesmsc.out"
        self._procs: list[subprocess.Popen] = []

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def config(self) -> str:
        d = self.dir
        return f"""\
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = {self.admin_password}
smsbox-port = {self.box_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = {self.log_level}
access-log = "{d}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
host = 127.0.0.1
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = {self.log_level}
http-request-retry = {self.http_request_retry}
http-queue-delay = 1

group = sendsms-user
username = {self.username}
password = {self.password}
concatenation = true
max-messages = 10

{self._service()}"""

    def _service(self) -> str:
        if self.get_url is None:
            return 'group = sms-service\nkeyword = default\ntext = "No service"\n'
        return (
            f'group = sms-service\nkeyword = default\nget-url = "{self.get_url}"\n'
            "omit-empty = true\nmax-messages = 1\n"
        )

    def start(self, timeout: float = 20.0) -> Kannel:
        self.conf.write_text(self.config())
        try:
            self._spawn("bearerbox", [self.bin["bearerbox"], str(self.conf)])
            _wait_port(self.admin_port, timeout)
            out = self.fakesmsc_out.open("wb")
            fake = [self.bin["fakesmsc"], "-H", "127.0.0.1", "-r", str(self.smsc_port)]
            if self.get_url is None:
                # -m 0: send no mobile-originated messages, only print what arrives
                self._spawn("fakesmsc", [*fake, "-m", "0", "1 2 text unused"], stdout=out)
            else:
                # no message given: interactive, one mobile-originated message per stdin line
                self._spawn("fakesmsc", fake, stdout=out, stdin=subprocess.PIPE)
            self._spawn("smsbox", [self.bin["smsbox"], str(self.conf)])
            _wait_port(self.sendsms_port, timeout)
            self._wait_online(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str], stdout=None, stdin=subprocess.DEVNULL) -> None:
        log = stdout or (self.dir / f"{name}.out").open("wb")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=stdin, cwd=self.dir
        )
        if name == "fakesmsc":
            self._fakesmsc = proc
        self._procs.append(proc)

    def inject(self, sender: str, receiver: str, text: str, *, ucs2: bool = False) -> None:
        """fakesmsc sends ``text`` from ``sender`` to ``receiver`` (needs ``get_url``),
        as plain text or, with ``ucs2``, UCS-2 coded as a phone sends non-GSM letters."""
        if self.get_url is None:
            raise RuntimeError("inject needs Kannel(..., get_url=...): fakesmsc is not interactive")
        if ucs2:
            body = "".join(f"%{b:02X}" for b in text.encode("utf-16-be"))
            line = f"{sender} {receiver} ucs2 {body}\n".encode()
        elif "\n" in text:
            raise ValueError("a plain-text line cannot carry a newline; use ucs2=True")
        else:
            line = f"{sender} {receiver} text {text}\n".encode()
        if len(line) >= 256 or any(c.isspace() for c in sender + receiver):
            raise ValueError("fakesmsc reads lines of under 256 bytes: sender receiver text")
        self._fakesmsc.stdin.write(line)
        self._fakesmsc.stdin.flush()

    def status(self) -> str:
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={self.admin_password}"
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode(errors="replace")

    def _wait_online(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for p in self._procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited ({p.returncode}); see {self.dir}")
            status = ""
            with contextlib.suppress(OSError):
                status = self.status()
            # the fake SMSC is connected and one smsbox is attached
            if re.search(r"fake\[fake\].*\(online", status) and re.search(
                r"^\s*smsbox:", status, re.M
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kannel did not come online; status:\n{status}")
            time.sleep(0.1)

    def stop(self) -> None:
        # smsbox first (stops taking requests), bearerbox last (it flushes queues)
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._procs.clear()

    def __enter__(self) -> Kannel:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def received(self) -> list[FakeSms]:
        """Every message fakesmsc printed, in arrival order, text decoded."""
        out = []
        text = self.fakesmsc_out.read_bytes().decode("utf-8", errors="replace")
        for line in text.splitlines():
            m = _GOT.search(line)
            if not m:
                continue
            _, sender, to, coding, body = m.groups()
            if coding == "ucs-2":
                body = unquote_to_bytes(body.replace("+", "%20")).decode("utf-16-be")
            out.append(FakeSms(sender, to, coding, body))
        return out

    def wait_received(self, n: int, timeout: float = 30.0) -> list[FakeSms]:
        """The messages fakesmsc printed once there are ``n`` (or whatever came by the
        timeout: the caller's assertion says what is missing). 30 s: with a Spark build on
        the other test worker, a reply's round trip through smsbox and bearerbox has taken
        over 10 s; a healthy one takes well under a second."""
        deadline = time.monotonic() + timeout
        while len(got := self.received()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return got


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "data/kannel")
    with Kannel(directory) as kannel:
        print(f"sendsms: {kannel.sendsms_url} user={kannel.username} password={kannel.password}")
        print(f"fakesmsc output: {kannel.fakesmsc_out}; Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
