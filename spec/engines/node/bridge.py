"""Python's side of the JSON-lines bridge to the npm engines (bridge.mjs beside this file): one node
process per Python process, started on first use and stopped at exit or by `stop()`, so a run never
leaves a node process behind. Every call has a deadline; every failure is a one-line `BridgeError`
(node missing, packages not installed -> the install command, a handler's error -> its message). A call
that misses its deadline stops the process (its state is unknown) and the next call starts a new one."""

from __future__ import annotations

import atexit
import base64
import collections
import itertools
import json
import math
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
INSTALL = "python -m spec.engines.node install"
DTYPES = ("float64", "float32", "int32")


class BridgeError(RuntimeError):
    """A node engine call failed; the message is one line."""


class BridgeTimeout(BridgeError, TimeoutError):
    """A node engine call missed its deadline (the process has been stopped)."""


def installed(package: str) -> bool:
    """Whether node is on PATH and the npm `package` is installed into spec/engines/node (for `needs`)."""
    return shutil.which("node") is not None and (MODULES / package / "package.json").is_file()


def encode(value):
    """Arguments -> JSON-ready: arrays as little-endian base64 (keeps -inf at any size), non-finite
    floats as {"$float": ...} (JSON has no infinity)."""
    if isinstance(value, np.ndarray):
        array = value if value.dtype.name in DTYPES else _narrowed(value)
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        return {"b64": base64.b64encode(data.tobytes()).decode("ascii"), "dtype": array.dtype.name,
                "shape": list(array.shape)}
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def _narrowed(array: np.ndarray) -> np.ndarray:
    """Integers and booleans travel as int32 (token ids), other floats as float64; anything else, or an
    integer int32 cannot hold, is refused rather than silently changed."""
    if array.dtype.kind in "biu":
        if array.size and (array.min() < -2**31 or array.max() >= 2**31):
            raise BridgeError(f"integer array out of int32 range ({array.dtype})")
        return array.astype(np.int32)
    if array.dtype.kind == "f":
        return array.astype(np.float64)
    raise BridgeError(f"cannot send a {array.dtype} array to node (use one of {', '.join(DTYPES)})")


def decode(value):
    """A reply -> Python: {"b64", "dtype", "shape"} -> numpy array, {"$float"} -> float."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$float" in value:
        return float(value["$float"])
    if "b64" in value and "dtype" in value:
        flat = np.frombuffer(base64.b64decode(value["b64"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        return flat.astype(value["dtype"]).reshape(value["shape"])
    return {k: decode(v) for k, v in value.items()}


class Bridge:
    """One running `node bridge.mjs`: requests go one at a time (a lock), replies are read by a thread into
    a queue so that waiting for one can have a deadline; stderr is kept (last lines) to explain a crash."""

    def __init__(self):
        node = shutil.which("node")
        if node is None:
            raise BridgeError("node is not on PATH: install Node.js >= 18 (e.g. apt-get install nodejs npm), "
                              f"then `{INSTALL}`")
        if not MODULES.is_dir():
            raise BridgeError(f"the npm engines are not installed: run `{INSTALL}`")
        self.process = subprocess.Popen([node, str(HERE / "bridge.mjs")], cwd=HERE, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        encoding="utf-8", bufsize=1)
        self.replies: queue.Queue = queue.Queue()
        self.stderr: collections.deque = collections.deque(maxlen=20)
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._read, args=(stream, put), daemon=True)
                        for stream, put in ((self.process.stdout, self.replies.put),
                                            (self.process.stderr, self.stderr.append))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, put):
        for line in stream:
            put(line)
        put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, handler: str, op: str, args: dict, timeout: float):
        with self.lock:
            if not self.alive():
                raise BridgeError(f"the node bridge has exited ({self._last_words()})")
            ident = next(self.ids)
            line = json.dumps({"id": ident, "handler": handler, "op": op, "args": encode(args)}, allow_nan=False)
            try:
                self.process.stdin.write(line + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError) as e:
                raise BridgeError(f"the node bridge has exited ({self._last_words()})") from e
            return self._reply(ident, handler, op, time.monotonic() + timeout, timeout)

    def _reply(self, ident: int, handler: str, op: str, deadline: float, timeout: float):
        while True:
            try:
                line = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop(grace=0.0)
                raise BridgeTimeout(f"node {handler}.{op} took more than {timeout:g} s (bridge stopped)") from None
            if line is None:
                raise BridgeError(f"the node bridge exited during {handler}.{op} ({self._last_words()})")
            if not line.startswith("{"):
                self.stderr.append(line)  # something an engine printed to stdout natively: not a reply
                continue
            reply = json.loads(line)
            if reply.get("id") != ident:
                continue  # a reply to a call that missed its deadline earlier cannot arrive (the bridge restarts)
            if "error" in reply:
                raise BridgeError(f"node {handler}.{op}: {reply['error']}")
            return decode(reply["result"])

    def _last_words(self) -> str:
        code = self.process.poll()
        tail = " | ".join(line.strip() for line in list(self.stderr)[-3:] if line.strip())
        return f"exit code {code}" + (f": {tail}" if tail else "")

    def stop(self, grace: float = 2.0) -> None:
        """Close stdin (the bridge exits when its queue is done), then kill it if it lingers."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self.readers:  # they end at the pipes' end of file; then the pipes can close
            reader.join(1.0)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


_running: Bridge | None = None
_guard = threading.Lock()


def bridge() -> Bridge:
    """This Python process's node bridge, started on first use (and again after `stop()` or a deadline)."""
    global _running
    with _guard:
        if _running is None or not _running.alive():
            _running = Bridge()
        return _running


def call(handler: str, op: str, timeout: float = 120.0, **args):
    """handlers/<handler>.mjs `handle(op, args)` in the bridge, within `timeout` seconds."""
    return bridge().call(handler, op, args, timeout)


@atexit.register
def stop() -> None:
    """Stop the node process if one runs (also at exit)."""
    global _running
    with _guard:
        if _running is not None:
            _running.stop()
            _running = None
