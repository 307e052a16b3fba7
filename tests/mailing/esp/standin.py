"""A loopback stand-in for an ESP's HTTP API: records each request, answers as scripted.

``answers`` is a list of callables ``(request) -> (status, body[, headers])`` used in
order (the last one stays); a body that is not bytes or str is sent as JSON. Requests
are kept as ``Request`` (method, path, query, headers, body bytes, ``json()``, ``form()``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        """An urlencoded or multipart/form-data body as {name: [values]}."""
        kind = self.headers.get("content-type", "")
        if kind.startswith("multipart/"):
            parsed = message_from_bytes(
                f"Content-Type: {kind}\r\n\r\n".encode() + self.body, policy=policy.default
            )
            out = {}
            for part in parsed.iter_parts():
                name = part.get_param("name", header="content-disposition")
                out.setdefault(name, []).append(part.get_content())
            return out
        return parse_qs(self.body.decode(), keep_blank_values=True)


class StandIn:
    def __init__(self):
        self.requests: list[Request] = []
        self.answers = []
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with standin.lock:
                    standin.requests.append(request)
                    answer = standin.answers[0] if standin.answers else None
                    if len(standin.answers) > 1:
                        standin.answers.pop(0)
                status, body, *extra = answer(request) if answer else (404, {})
                headers = extra[0] if extra else {}
                if not isinstance(body, bytes | str):
                    body = json.dumps(body)
                    headers.setdefault("Content-Type", "application/json")
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
