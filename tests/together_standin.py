"""A local stand-in for Together AI's files and fine-tuning API over real HTTP, driven by the official
``together`` SDK: its multi-step upload (a 302 to a storage URL, a PUT, then preprocessing), the model limits
and price estimate the SDK asks for before a create, jobs that move pending -> running -> completed (or error,
or cancelled), their events and checkpoints, OpenAI-compatible chat, and the adapter download. Bodies are the
recordings in fixtures/together/. It counts creates, which is what the at-most-once test asserts."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.conftest import FIXTURES


def load(name: str) -> Any:
    return json.loads((FIXTURES / "together" / f"{name}.json").read_text())


@dataclass
class TogetherState:
    outcome: str = "completed"  # completed | error
    create_fault: str = "none"  # none | drop (the job is created, the answer lost) | 500 (after creating it)
    over_limit: bool = False
    list_hidden: bool = False  # the job list never shows new jobs (a list that lags without limit)
    adapter: bytes = b""  # what /v1/finetune/download serves
    creates_received: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    retrieves: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploaded: dict[str, bytes] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _handler(state: TogetherState, root: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(
            self, status: int, body: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
        ) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for k, v in {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _job_view(self, job_id: str) -> dict[str, Any]:
            job = state.jobs[job_id]
            n = state.retrieves.get(job_id, 0)
            if job_id in state.cancelled:
                view = load("job_cancelled")
            elif n <= 1:
                view = load("job_running")
            else:
                view = load("job_completed" if state.outcome == "completed" else "job_error")
            view.update(
                id=job_id,
                model=job["model"],
                training_file=job["training_file"],
                created_at=job["created_at"],
                updated_at=_now(),
            )
            return view

        def do_PUT(self) -> None:
            path = urlparse(self.path).path
            if path.startswith("/storage/"):
                state.uploaded[path.rsplit("/", 1)[1]] = self._body()
                return self._send(200, b"", "text/plain")
            self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            path = urlparse(self.path).path
            raw = self._body()
            if path == "/v1/files":
                file_id = f"file-{uuid.uuid4()}"
                name = raw.split(b'name="file_name"', 1)[1].split(b"\r\n\r\n", 1)[1].split(b"\r\n", 1)[0].decode()
                state.files[file_id] = {"filename": name}
                return self._send(
                    302, b"", "text/plain", {"Location": f"{root[0]}/storage/{file_id}", "X-Together-File-Id": file_id}
                )
            parts = path.strip("/").split("/")
            if parts[:2] == ["v1", "files"] and parts[3:] == ["preprocess"]:
                file_id = parts[2]
                body = load("file_uploaded")
                body.update(
                    id=file_id, filename=state.files[file_id]["filename"], bytes=len(state.uploaded.get(file_id, b""))
                )
                return self._send(200, body)
            if path == "/v1/fine-tunes/estimate-price":
                return self._send(200, load("estimate_price_over_limit" if state.over_limit else "estimate_price"))
            if path == "/v1/fine-tunes":
                params = json.loads(raw)
                with state.lock:
                    state.creates_received += 1
                    job_id = f"ft-{uuid.uuid4()}"
                    state.jobs[job_id] = {
                        "model": params["model"],
                        "training_file": params["training_file"],
                        "created_at": _now(),
                        "params": params,
                    }
                fault = state.create_fault if state.creates_received == 1 else "none"
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if fault == "500":
                    return self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
                body = load("job_pending")
                body.update(
                    id=job_id,
                    model=params["model"],
                    training_file=params["training_file"],
                    created_at=state.jobs[job_id]["created_at"],
                )
                return self._send(200, body)
            if parts[:2] == ["v1", "fine-tunes"] and parts[3:] == ["cancel"] and parts[2] in state.jobs:
                state.cancelled.add(parts[2])
                return self._send(200, self._job_view(parts[2]) | {"status": "cancel_requested"})
            if path == "/v1/chat/completions":
                body = load("chat_completion")
                body["model"] = json.loads(raw)["model"]
                return self._send(200, body)
            self._send(404, {"error": {"message": f"no route {path}"}})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if url.path == "/v1/fine-tunes/models/limits":
                return self._send(200, load("model_limits") | {"model_name": parse_qs(url.query)["model_name"][0]})
            if url.path == "/v1/fine-tunes":
                listed = [] if state.list_hidden else [self._job_view(i) for i in state.jobs]
                return self._send(200, {"data": listed})
            if parts[:2] == ["v1", "fine-tunes"] and len(parts) >= 3 and parts[2] in state.jobs:
                job_id = parts[2]
                if len(parts) == 3:
                    state.retrieves[job_id] = state.retrieves.get(job_id, 0) + 1
                    return self._send(200, self._job_view(job_id))
                if parts[3] == "events":
                    return self._send(200, {"data": self._job_view(job_id)["events"]})
                if parts[3] == "checkpoints":
                    return self._send(200, load("checkpoints"))
            if url.path == "/v1/finetune/download":
                query = parse_qs(url.query)
                if query.get("ft_id", [""])[0] not in state.jobs or query.get("checkpoint") != ["adapter"]:
                    return self._send(404, {"error": {"message": "no such fine-tune"}})
                return self._send(200, state.adapter, "application/octet-stream")
            self._send(404, {"error": {"message": f"no route {url.path}"}})

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class TogetherStandIn:
    """``with TogetherStandIn(TogetherState(...)) as s:``; ``s.url`` is the SDK's base URL."""

    def __init__(self, state: TogetherState | None = None) -> None:
        self.state = state or TogetherState()
        root: list[str] = []
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self.state, root))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        root.append(self.url)

    def __enter__(self) -> TogetherStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
