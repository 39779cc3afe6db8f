"""A real OpenAI-compatible chat-completions server on 127.0.0.1, scripted per request.

Each request to ``POST /v1/chat/completions`` takes the next scripted action: answer with some
content (valid JSON or not), answer with an HTTP error status, or stall longer than the client's
timeout. Every request body is recorded, so tests count exactly how many attempts a client made.

    with FaultServer([Status(429), Reply('{"ok": true}')]) as server:
        client = LiteLLMClient("openai/test", api_base=server.base_url, ...)
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Action", "FaultServer", "Reply", "Stall", "Status"]


@dataclass(frozen=True)
class Reply:
    """A 200 answer whose message content is ``content`` (not checked to be JSON)."""

    content: str
    prompt_tokens: int = 42
    completion_tokens: int = 7


@dataclass(frozen=True)
class Status:
    """An HTTP error answer with an OpenAI-style error body."""

    code: int
    message: str = "scripted failure"


@dataclass(frozen=True)
class Stall:
    """No answer for ``seconds`` (the client should time out first), then a 200 answer."""

    seconds: float
    content: str = "{}"


Action = Reply | Status | Stall


@dataclass
class _Script:
    actions: list[Action]
    default: Action | None
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def next_action(self, body: dict[str, Any]) -> Action | None:
        with self.lock:
            self.requests.append(body)
            if self.actions:
                return self.actions.pop(0)
            return self.default


def _completion(model: str, action: Reply | Stall) -> dict[str, Any]:
    reply = action if isinstance(action, Reply) else Reply(action.content)
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "fault", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        script = self.server.script
        action = script.next_action(body)
        model = str(body.get("model", "fault"))
        if action is None:
            self._send(500, {"error": {"message": "fault server script ran out"}})
        elif isinstance(action, Status):
            error = {"message": action.message, "type": "scripted", "code": action.code}
            self._send(action.code, {"error": error})
        else:
            if isinstance(action, Stall) and script.stop.wait(action.seconds):
                return  # the server is shutting down
            # A client that timed out has hung up by now.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(200, _completion(model, action))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: _Script


class FaultServer:
    """The scripted server, started in a thread; use it as a context manager."""

    def __init__(self, actions: list[Action] | None = None, default: Action | None = None):
        self._script = _Script(list(actions or []), default)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.script = self._script
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The ``api_base`` to give a client: ``http://127.0.0.1:<port>/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received so far, in order."""
        with self._script.lock:
            return list(self._script.requests)

    def script(self, *actions: Action) -> None:
        """Queue more actions."""
        with self._script.lock:
            self._script.actions.extend(actions)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._script.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
