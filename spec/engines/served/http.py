"""JSON over HTTP with a deadline on every request and one-line errors: a validator run must never
hang on a server, and a bad endpoint must say what is wrong (refused, timed out, the server's own
message on a 4xx/5xx, a body that is not JSON). Standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

TIMEOUT = 120.0  # seconds for one request, unless told


class EndpointError(RuntimeError):
    """A request to an endpoint failed; the message is one line, naming the URL."""


def request(url: str, body: dict | None = None, timeout: float = TIMEOUT, retries: int = 3) -> dict:
    """POST `body` as JSON to `url` (GET when body is None) and return the decoded JSON answer. A
    connection the server resets before answering is tried again (`retries` times, after 0.5 s):
    mlx_lm.server's ThreadingHTTPServer resets connections beyond its listen backlog of 5."""
    for _ in range(retries):
        try:
            return _request(url, body, timeout)
        except ConnectionResetError:
            time.sleep(0.5)
    try:
        return _request(url, body, timeout)
    except ConnectionResetError as e:
        raise EndpointError(f"{url}: the server reset the connection {retries + 1} times ({e})") from None


def _request(url: str, body: dict | None, timeout: float) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as e:
        raise EndpointError(f"{url}: HTTP {e.code} {e.reason}: {_message(e.read())}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ConnectionResetError):
            raise reason from None
        if isinstance(reason, ConnectionRefusedError):
            raise EndpointError(f"{url}: connection refused (is the server running?)") from None
        if isinstance(reason, TimeoutError):
            raise EndpointError(f"{url}: no answer within {timeout:g} s") from None
        raise EndpointError(f"{url}: {reason}") from None
    except TimeoutError:
        raise EndpointError(f"{url}: no answer within {timeout:g} s") from None
    except ConnectionResetError:
        raise
    except (ConnectionError, OSError) as e:
        raise EndpointError(f"{url}: {type(e).__name__}: {e}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise EndpointError(f"{url}: the answer is not JSON: {_clip(raw)}") from None


def _message(raw: bytes) -> str:
    """The server's own error message from an error body (OpenAI style {"error": {"message": ...}} or text)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return _clip(raw)
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error.get("detail", error))
    return _clip(str(error).encode())


def _clip(raw: bytes, width: int = 300) -> str:
    text = " ".join(raw.decode(errors="replace").split()) or "(empty)"
    return text if len(text) <= width else text[:width] + "..."
