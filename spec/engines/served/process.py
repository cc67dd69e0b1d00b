"""A server process for a validation run: started on 127.0.0.1 on a free port, waited for until it
answers, its output in a log file (the last lines go into the error when it dies), and always
stopped: by `stop()`, at the end of a `with` block, at interpreter exit, on SIGTERM, and by its
guard (`spec.engines.served.guard`) when this process is gone without any of those (SIGKILL). The
whole process group is killed, so a server that forks workers (vLLM) leaves nothing behind."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from spec.engines.served.http import EndpointError, request

RUNNING: list[Server] = []  # every server this process started and has not stopped


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """argv(port) -> the command; ready: the path whose GET answers once the server serves."""

    def __init__(self, name: str, argv: Callable[[int], list[str]], ready: str = "/v1/models",
                 startup: float = 600.0, env: dict | None = None):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"spec-{name}-", suffix=".log", delete=False)
        # the guard as a script, not `-m spec...`: it needs none of the project's imports
        guarded = [sys.executable, str(Path(__file__).with_name("guard.py")), str(os.getpid()), *argv(self.port)]
        self.process = subprocess.Popen(guarded, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        env=None if env is None else os.environ | env)
        RUNNING.append(self)
        try:
            self._wait(ready, startup)
        except BaseException:
            self.stop()
            raise

    def _wait(self, ready: str, startup: float):
        deadline = time.monotonic() + startup
        while True:
            if self.process.poll() is not None:
                raise EndpointError(f"{self.name} exited with status {self.process.returncode} while starting: "
                                    f"{self.tail()}")
            try:
                request(self.url + ready, timeout=5)
                return
            except EndpointError:
                if time.monotonic() > deadline:
                    raise EndpointError(f"{self.name} did not answer {ready} within {startup:g} s: "
                                        f"{self.tail()}") from None
                time.sleep(0.2)

    def tail(self, lines: int = 3) -> str:
        """The last lines of the server's log, on one line."""
        try:
            with open(self.log.name, errors="replace") as f:
                text = f.read().strip().splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text) or "(empty log)"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0):
        """Terminate the process group, then kill it if it has not ended within `grace` seconds."""
        if self in RUNNING:
            RUNNING.remove(self)
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # a worker of the group may outlive its leader
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Running:
    """A server already running at `url` (--endpoint): never started or stopped here."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def models(self) -> list[str]:
        """The model names it serves (GET /v1/models)."""
        answer = request(self.url + "/v1/models", timeout=30)
        data = answer.get("data") if isinstance(answer, dict) else None
        return [m["id"] for m in data or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def alive(self) -> bool:
        return True

    def stop(self):
        pass


def config_cli(prog: str, what: str, port: int, write: Callable[[Path, int], list[str]]):
    """The command line of an engine module that writes `what` for a server you start yourself
    (write(folder, port) -> the server's command) and prints the command, for --endpoint."""
    import argparse

    parser = argparse.ArgumentParser(prog, description=f"Write {what} for a server you start yourself, and print "
                                                       "the command that starts it.")
    parser.add_argument("folder", type=Path, help="where it goes")
    parser.add_argument("port", type=int, nargs="?", default=port, help=f"its port on 127.0.0.1 (default: {port})")
    args = parser.parse_args()
    try:
        print(" ".join(write(args.folder, args.port)))
    except OSError as e:
        parser.error(f"cannot write {args.folder}: {e.strerror}")


def stop_all():
    for server in list(RUNNING):
        server.stop()


def _on_sigterm(signum, frame, previous=None):
    stop_all()
    if callable(previous):
        previous(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


atexit.register(stop_all)
if threading.current_thread() is threading.main_thread():
    _previous = signal.getsignal(signal.SIGTERM)
    if _previous is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, lambda signum, frame: _on_sigterm(signum, frame, _previous))
