"""A local stand-in for OpenAI's files and fine-tuning API (and Azure OpenAI's, which is the same API under
``/openai`` with Azure's ids, names, statuses and deployments), for fault injection over real HTTP.

Its bodies are the recorded responses in fixtures/openai/ (the SDK parses them with its own types); its
faults are the hostile pass's scenarios: a create that is processed and then answered with a dropped
connection, a 500, truncated JSON, an HTML page or only after a long delay, and a job list that lags
behind the jobs that exist (OpenAI's list is eventually consistent). It counts every create it receives
and every job it creates, which is what the at-most-once tests assert.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.conftest import FIXTURES
from tests.openai_fixtures import load


@dataclass
class Faults:
    """What goes wrong. ``create``: none | drop | 500 | truncated | html | slow (each after creating the job),
    or 429 (refused, nothing created, with ``retry_after`` as its Retry-After header);
    ``create_times``: how many creates misbehave (then they answer normally); ``list_lag_s``: a job appears in
    the list this long after it was created; ``list_500``: the first N list calls fail."""

    create: str = "none"
    create_times: int = 1_000
    retry_after: str = "1"  # the header of the "429" fault (which creates nothing)
    slow_s: float = 5.0
    list_lag_s: float = 0.0
    list_500: int = 0
    upload: str = "none"  # none | drop (after storing the file) | 500 (after storing it)
    upload_times: int = 1
    echo_key: bool = False  # events and the fine-tuned model id repeat the caller's key (a hostile proxy)
    poll: str = "none"  # none | truncated (the first 2 retrieves) | events_500 (every events call)
    chat: str = "ok"  # ok | empty (no choices) | html
    metrics: str = "ok"  # ok | binary (the results file is not a CSV)
    outcome: str = "succeeded"  # how every job ends: succeeded | failed


@dataclass
class State:
    faults: Faults
    flavor: str = "openai"  # openai | azure
    cancelled: set[str] = field(default_factory=set)
    deployments: dict[str, int] = field(default_factory=dict)  # name -> GETs seen (Creating, then Succeeded)
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)  # jobs that ended before the test
    contents: dict[str, bytes] = field(default_factory=dict)  # file id -> what was uploaded
    answers: dict[str, str] = field(default_factory=dict)  # last user message -> the model's answer
    creates_received: int = 0
    chats_received: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: dict[str, float] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    list_calls: int = 0
    uploads_received: int = 0
    retrieves: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: State) -> type[BaseHTTPRequestHandler]:
    azure = state.flavor == "azure"
    prefix = "/openai" if azure else "/v1"

    def fixture(name: str) -> Any:
        """Azure's recording where the shapes differ (ids, names, statuses), OpenAI's where they do not."""
        azure_name = {"job_validating_files": "job_pending"}.get(name, name)
        if azure and (FIXTURES / "azure" / f"{azure_name}.json").is_file():
            return json.loads((FIXTURES / "azure" / f"{azure_name}.json").read_text())
        return load(name)

    def new_job_id() -> str:
        return "ftjob-" + (uuid.uuid4().hex if azure else uuid.uuid4().hex[:24])

    def fine_tuned_name(model: str, suffix: str, job_id: str) -> str:
        return f"{model}.ft-{job_id[6:]}-{suffix}" if azure else f"ft:{model}:{suffix}::{job_id[-8:]}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _key(self) -> str:
            return self.headers.get("api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")

        def _path(self) -> str | None:
            """The path under the API's prefix; None (answered 400) when Azure's api-version is missing."""
            url = urlparse(self.path)
            if azure and url.path.startswith("/openai") and "api-version" not in parse_qs(url.query):
                self._send(400, {"error": {"code": "BadRequest", "message": "api-version is required"}})
                return None
            return url.path.replace(prefix, "/v1", 1) if url.path.startswith(prefix) else url.path

        def do_PUT(self) -> None:
            """Azure Resource Manager: create a deployment."""
            path, raw = urlparse(self.path).path, self._body()
            if "/deployments/" in path and path.startswith("/subscriptions/"):
                body = json.loads(raw)
                name = path.rsplit("/", 1)[1]
                state.deployments[name] = 0
                dep = fixture("deployment_creating")
                dep.update(name=name, properties={**dep["properties"], "model": body["properties"]["model"]})
                return self._send(201, dep)
            self._send(404, load("error_404"))

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:
            path = self._path()
            raw = self._body()
            if path is None:
                return None
            if path.startswith("/v1/deployments/") and path.endswith("/chat/completions"):
                name = path.split("/")[3]
                if name not in state.deployments:
                    return self._send(
                        404, {"error": {"code": "DeploymentNotFound", "message": f"no deployment {name}"}}
                    )
                path = "/v1/chat/completions"
            if path.startswith("/v1/fine_tuning/jobs/") and path.endswith("/cancel"):
                job_id = path.split("/")[4]
                if job_id not in state.jobs:
                    return self._send(404, load("error_404"))
                state.cancelled.add(job_id)
                done = fixture("job_cancelled")
                done.update(
                    id=job_id,
                    model=state.jobs[job_id]["model"],
                    training_file=state.jobs[job_id]["training_file"],
                    metadata=state.jobs[job_id]["metadata"],
                )
                return self._send(200, done)
            if path == "/v1/files":
                f = fixture("file_processed")
                boundary = self.headers.get("Content-Type", "").split("boundary=")[-1].encode()
                part = next(x for x in raw.split(b"--" + boundary) if b'filename="' in x)
                size = len(part.split(b"\r\n\r\n", 1)[1][:-2])
                name = part.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
                f.update(id="file-" + uuid.uuid4().hex[:20], bytes=size, filename=name, created_at=int(time.time()))
                state.files[f["id"]] = f
                state.uploads_received += 1
                if state.faults.upload != "none" and state.uploads_received <= state.faults.upload_times:
                    if state.faults.upload == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return None
                    return self._send(500, load("error_500"))
                return self._send(200, f)
            if path == "/v1/fine_tuning/jobs":
                return self._create(json.loads(raw))
            if path == "/v1/chat/completions":
                with state.lock:
                    state.chats_received += 1
                if state.faults.chat == "html":
                    return self._send(200, b"<html>oops</html>", "text/html")
                answer = fixture("chat_completion")
                asked = json.loads(raw)
                said = next((m["content"] for m in reversed(asked["messages"]) if m["role"] == "user"), "")
                if said in state.answers:  # a scripted model (the README's migration example)
                    answer["choices"][0]["message"]["content"] = state.answers[said]
                    answer["model"] = asked["model"]
                if state.faults.chat == "empty":
                    answer["choices"] = []
                return self._send(200, answer)
            self._send(404, load("error_404"))

        def _create(self, params: dict[str, Any]) -> None:
            with state.lock:
                state.creates_received += 1
                n = state.creates_received
                if state.faults.create == "429" and n <= state.faults.create_times:
                    body = json.dumps(load("error_429")).encode()
                    self.send_response(429)
                    for k, v in (
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))),
                        ("Retry-After", state.faults.retry_after),
                    ):
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                    return None
                job = fixture("job_validating_files")
                job.update(
                    id=new_job_id(),
                    model=params["model"],
                    training_file=params["training_file"],
                    metadata=params.get("metadata"),
                    suffix=params.get("suffix"),
                )
                state.jobs[job["id"]] = job
                state.created_at[job["id"]] = time.monotonic()
            fault = state.faults.create if n <= state.faults.create_times else "none"
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if fault == "500":
                return self._send(500, load("error_500"))
            if fault == "truncated":
                return self._send(200, json.dumps(job).encode()[:60])
            if fault == "html":
                return self._send(200, b"<html><body>Bad gateway</body></html>", "text/html")
            if fault == "slow":
                time.sleep(state.faults.slow_s)
            return self._send(200, job)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path.startswith("/subscriptions/") and "/deployments/" in url.path:
                name = url.path.rsplit("/", 1)[1]
                if name not in state.deployments:
                    return self._send(404, load("error_404"))
                state.deployments[name] += 1
                return self._send(
                    200,
                    fixture("deployment_succeeded" if state.deployments[name] > 1 else "deployment_creating")
                    | {"name": name},
                )
            path = self._path()
            if path is None:
                return None
            url = url._replace(path=path)
            parts = url.path.strip("/").split("/")
            if url.path == "/v1/fine_tuning/jobs":
                return self._list(parse_qs(url.query))
            if url.path == "/v1/files":
                return self._send(200, {"object": "list", "data": list(state.files.values())[::-1], "has_more": False})
            if parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 4 and parts[3] in state.finished:
                return self._send(200, state.finished[parts[3]])
            if parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 4:
                job = state.jobs.get(parts[3])
                if job is None:
                    return self._send(404, load("error_404"))
                state.retrieves += 1
                suffix = self._key() if state.faults.echo_key else "standin"
                if job["id"] in state.cancelled:
                    done = fixture("job_cancelled")
                elif state.faults.outcome == "failed":
                    done = fixture("job_failed")
                else:
                    done = fixture("job_succeeded")
                    done["fine_tuned_model"] = fine_tuned_name(job["model"], suffix, job["id"])
                done.update(
                    id=job["id"], model=job["model"], training_file=job["training_file"], metadata=job["metadata"]
                )
                if state.faults.poll == "truncated" and state.retrieves <= 2:
                    return self._send(200, json.dumps(done).encode()[:40])
                return self._send(200, done)
            if parts[:3] == ["v1", "fine_tuning", "jobs"] and parts[4:] == ["events"]:
                if state.faults.poll == "events_500":
                    return self._send(500, load("error_500"))
                events = fixture("events_page")
                if state.faults.echo_key:
                    events["data"][0]["message"] = f"Request authenticated with {self._key()}"
                return self._send(200, events)
            if parts[:2] == ["v1", "files"] and len(parts) == 3 and parts[2] in state.files:
                return self._send(200, state.files[parts[2]])
            if parts[:2] == ["v1", "files"] and parts[3:] == ["content"] and parts[2] in state.contents:
                return self._send(200, state.contents[parts[2]], "application/octet-stream")
            if parts[:2] == ["v1", "files"] and parts[3:] == ["content"]:
                if state.faults.metrics == "binary":
                    return self._send(200, bytes(range(256)) * 4, "application/octet-stream")
                return self._send(200, (FIXTURES / "openai" / "result_metrics.csv").read_bytes(), "text/csv")
            self._send(404, load("error_404"))

        def _list(self, query: dict[str, list[str]]) -> None:
            with state.lock:
                state.list_calls += 1
                if state.list_calls <= state.faults.list_500:
                    return self._send(500, load("error_500"))
                now = time.monotonic()
                wanted = query.get("metadata[ftadvisor_run]", [None])[0]
                visible = [
                    j
                    for i, j in state.jobs.items()
                    if now - state.created_at[i] >= state.faults.list_lag_s
                    and (wanted is None or (j.get("metadata") or {}).get("ftadvisor_run") == wanted)
                ]
            # OpenAI's paging: newest first, `limit` (default 20) after the job id `after`
            listed = visible[::-1] + list(state.finished.values())[::-1]
            after = query.get("after", [None])[0]
            start = next((i + 1 for i, j in enumerate(listed) if j["id"] == after), 0) if after else 0
            limit = int(query.get("limit", ["20"])[0])
            page = listed[start : start + limit]
            return self._send(200, {"object": "list", "data": page, "has_more": start + limit < len(listed)})

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on a fault we injected is expected, not news


class StandIn:
    """``with StandIn(Faults(...)) as s:`` serves on 127.0.0.1; ``s.url`` is the base URL for the SDK
    (``s.root`` for Azure's endpoint and its Resource Manager)."""

    def __init__(self, faults: Faults | None = None, flavor: str = "openai") -> None:
        self.state = State(faults or Faults(), flavor=flavor)
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self.state))
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.root}/v1"

    def __enter__(self) -> StandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def seed_finished(
        self, job: dict[str, Any], files: dict[str, bytes], listed_bytes: dict[str, int] | None = None
    ) -> None:
        """A job that succeeded before the test began, and the files it trained on (their file objects say
        ``listed_bytes`` where given: a download shorter than that was cut short)."""
        self.state.finished[job["id"]] = job
        self.state.contents.update(files)
        for file_id, content in files.items():
            f = load("file_processed")
            f.update(id=file_id, bytes=(listed_bytes or {}).get(file_id, len(content)), filename=f"{file_id}.jsonl")
            self.state.files[file_id] = f

    @property
    def jobs_created(self) -> int:
        return len(self.state.jobs)
