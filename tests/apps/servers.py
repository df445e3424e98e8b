"""Local stand-ins for the outside world a delivery talks to: an HTTP message gateway (an SMS
or push provider) and a mail server (aiosmtpd), each on a free port of 58400-58499."""
from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading

from aiosmtpd.controller import Controller

PORTS = range(58400, 58500)


def _free(factory):
    for port in PORTS:
        try:
            return factory(port)
        except (OSError, RuntimeError):  # taken (aiosmtpd reports it from its thread as a RuntimeError)
            continue
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class Gateway:
    """An HTTP gateway that keeps every message posted to it (``messages``: path and JSON) and
    answers ``answers[recipient]`` (a list of HTTP statuses, used up in turn) or 200."""

    def __init__(self):
        self.messages, self.answers = [], {}
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                queue = gateway.answers.get(body.get("to")) or []
                status = queue.pop(0) if queue else 200
                if status == 200:
                    gateway.messages.append({"path": self.path, "key": self.headers.get("Idempotency-Key"),
                                             "auth": self.headers.get("Authorization"), **body})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}" if status == 200 else b'{"error": "try later"}')

            def log_message(self, *args):
                pass

        self.server = _free(lambda p: http.server.ThreadingHTTPServer(("127.0.0.1", p), Handler))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server keeping ``(recipients, message)`` of everything it accepts."""

    def __init__(self):
        self.messages = []
        self.controller = _free(self._start)
        self.url = f"smtp://127.0.0.1:{self.controller.port}"

    def _start(self, port):
        controller = Controller(self, hostname="127.0.0.1", port=port)
        controller.start()
        return controller

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((sorted(envelope.rcpt_tos), msg))
        return "250 Message accepted"

    def close(self):
        self.controller.stop()
