"""A broken server for the served engines' tests: an HTTP proxy in front of a real one."""

import http.server
import json
import threading

from spec.engines.served.http import request


class Proxy:
    """An HTTP proxy on 127.0.0.1 that rewrites each request body with `change` before passing it on
    (or answers with `reply` itself); a GET is passed on as it is (or, with `models`, answers
    /v1/models with those names)."""

    def __init__(self, upstream: str, change=lambda body: body, reply=None, models=None):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if models is not None:
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
                else:
                    self._send(200, request(outer.upstream + self.path))

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if reply is not None:
                    status, answer = reply(body)
                else:
                    status, answer = 200, request(outer.upstream + self.path, change(body))
                self._send(status, answer)

            def _send(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.upstream = upstream
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
