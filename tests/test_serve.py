"""`ftadvisor serve` with the official `openai` client: the article's script unchanged but for base_url, key and
model; every response parsed by the SDK's own types; errors in OpenAI's envelope; ftadvisor's own OpenAI
backend driving the server. A real uvicorn server on 127.0.0.1 and a tiny model trained for real."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

pytest.importorskip("starlette")
import uvicorn

from ftadvisor.backends import JobSpec, wait
from ftadvisor.backends.openai_api import OpenAIBackend
from ftadvisor.server.app import ServerConfig, create_app
from tests.test_local_backend import SYSTEM, dataset

KEY = "sk-serve-test-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served(str):
    """The server's base URL, carrying its app (for the batcher's counters)."""

    app: object


@pytest.fixture
def server(tiny: Path, tmp_path: Path) -> Iterator[Served]:
    from local_backend import LocalBackend

    app = create_app(
        ServerConfig(keys=[KEY], models={"tiny": str(tiny)}, max_upload_bytes=64 * 1024, max_queued=2),
        LocalBackend(tmp_path / "store", poll_interval=0.2, max_running=1),
    )
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    url = Served(f"http://127.0.0.1:{port}/v1")
    url.app = app
    yield url
    srv.should_exit = True
    thread.join(10)


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0)


def test_the_articles_script_runs_against_the_server(server: str, tmp_path: Path) -> None:
    """Seed 004's "Path 1: OpenAI Fine-Tuning API", with only base_url, api_key and the model name changed."""
    seed = ROOT.parent / "shared" / "seeds" / "004_69c5cd649cdf8dcc.txt"
    if not seed.is_file():
        pytest.skip("the seed articles are not beside the repository")
    text = seed.read_text()
    script = text[text.index("from openai import OpenAI") : text.index("Path 2: Hugging Face")].strip()
    changed = script.replace("client = OpenAI()", f"client = OpenAI(base_url={server!r}, api_key={KEY!r})").replace(
        'model="gpt-4o-mini-2024-07-18"', 'model="tiny"'
    )
    assert changed.count("\n") == script.count("\n") and changed != script
    dataset(tmp_path / "training.jsonl", 12)
    (tmp_path / "article.py").write_text(changed + "\n")
    r = subprocess.run([sys.executable, "article.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Uploaded file: file-" in r.stdout and "Job started: ftjob-" in r.stdout
    assert "Status: succeeded" in r.stdout


def test_responses_parse_with_the_sdk_types_and_stream(server: str, tmp_path: Path) -> None:
    c = client(server)
    f = c.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    assert f.status == "processed" and f.filename == "t.jsonl" and f.bytes > 0
    assert [x.id for x in c.files.list()] == [f.id]
    job = c.fine_tuning.jobs.create(
        training_file=f.id,
        model="tiny",
        suffix="served",
        seed=3,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
        metadata={"team": "legal"},
    )
    assert job.status == "validating_files" and job.metadata == {"team": "legal"}
    assert [j.id for j in c.fine_tuning.jobs.list(metadata={"team": "legal"})] == [job.id]
    assert list(c.fine_tuning.jobs.list(metadata={"team": "other"})) == []
    while (job := c.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed"):
        time.sleep(0.3)
    assert job.status == "succeeded" and job.fine_tuned_model and job.trained_tokens
    assert job.method.supervised.hyperparameters.n_epochs == 2
    events = c.fine_tuning.jobs.list_events(job.id, limit=5)
    assert len(events.data) == 5 and events.has_more and events.data[0].created_at >= events.data[-1].created_at
    from ftadvisor.backends.base import all_events
    from ftadvisor.backends.openai_api import OpenAIBackend

    hosted = OpenAIBackend(api_key=KEY, base_url=server)  # paging through ftadvisor's own client
    every = all_events(hosted, job.id, page=3)
    assert len(every) > 5 and len({e.id for e in every}) == len(every)
    assert [e.id for e in hosted.list_events(job.id, limit=2, after=every[1].id)] == [e.id for e in every[2:4]]
    ckpts = c.fine_tuning.jobs.checkpoints.list(job.id)
    assert ckpts.data and ckpts.data[0].fine_tuning_job_id == job.id
    assert job.fine_tuned_model in {m.id for m in c.models.list()}
    assert c.models.retrieve(job.fine_tuned_model).owned_by
    metrics = c.files.content(job.result_files[0]).read().decode()
    assert metrics.startswith("step,train_loss")

    messages = [SYSTEM, {"role": "user", "content": "Ticket 1"}]
    answer = c.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=6)
    assert answer.choices[0].message.role == "assistant" and 0 < answer.usage.completion_tokens <= 6
    assert answer.usage.prompt_tokens_details.cached_tokens == 0
    chunks = list(
        c.chat.completions.create(
            model=job.fine_tuned_model,
            messages=messages,
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == answer.choices[0].message.content  # temperature 0: the same answer, streamed
    assert chunks[-1].usage.completion_tokens == answer.usage.completion_tokens
    if len(streamed.split()) > 2:  # text is handed over word by word as it is generated, not at the end
        assert sum(1 for ch in chunks if ch.choices and ch.choices[0].delta.content) > 1
    sampled = [
        c.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=8, temperature=1.0, seed=s)
        .choices[0]
        .message.content
        for s in (5, 5, 6)
    ]
    assert sampled[0] == sampled[1]  # the same seed samples the same answer
    text = answer.choices[0].message.content
    if len(text.strip()) > 4:
        stop = text.strip()[2:4]
        cut = c.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=6, stop=[stop])
        assert stop not in cut.choices[0].message.content and cut.choices[0].finish_reason == "stop"
        streamed_cut = "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(
                model=job.fine_tuned_model, messages=messages, max_tokens=6, stop=[stop], stream=True
            )
            if ch.choices
        )
        assert streamed_cut == cut.choices[0].message.content
    assert c.files.delete(f.id).deleted and list(c.files.list()) == []
    assert c.models.delete(job.fine_tuned_model).deleted
    assert job.fine_tuned_model not in {m.id for m in c.models.list()}
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=2)


def test_errors_come_in_openais_envelope(server: str, tmp_path: Path) -> None:
    c = client(server)
    with pytest.raises(openai.AuthenticationError) as auth:
        client(server, key="sk-wrong").models.list()
    assert auth.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        c.fine_tuning.jobs.retrieve("ftjob-000000000000000000000000")
    assert missing.value.body["param"] == "fine_tuning_job_id"
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve("../../etc/passwd")  # an id is never a path
    with pytest.raises(openai.NotFoundError) as model:
        c.fine_tuning.jobs.create(training_file="file-000000000000000000000000", model="gpt-4o-mini")
    assert model.value.body["code"] == "model_not_found"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": "nope"}\n' * 12)
    broken = c.files.create(file=bad.open("rb"), purpose="fine-tune")
    assert broken.status == "error" and "bad.jsonl:1" in broken.status_details
    with pytest.raises(openai.BadRequestError) as invalid:
        c.fine_tuning.jobs.create(training_file=broken.id, model="tiny")
    assert invalid.value.body["param"] == "training_file"
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * (65 * 1024))
    with pytest.raises(openai.APIStatusError) as too_big:
        c.files.create(file=big.open("rb"), purpose="fine-tune")
    assert too_big.value.status_code == 413
    ok = c.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(training_file=ok.id, model="tiny", hyperparameters={"n_epochs": 1})
    while c.fine_tuning.jobs.retrieve(job.id).status not in ("succeeded", "failed"):
        time.sleep(0.3)
    with pytest.raises(openai.ConflictError):
        c.fine_tuning.jobs.cancel(job.id)  # a finished job cannot be cancelled


def test_ftadvisors_own_openai_backend_drives_the_server(server: str, tmp_path: Path) -> None:
    b = OpenAIBackend(api_key=KEY, base_url=server, sleep=lambda s: time.sleep(0.2), reconcile_delays=(0.0,))
    f = b.upload(dataset(tmp_path / "t.jsonl", 12))
    job = b.create_job(
        JobSpec(model="tiny", training_file=f.id, hyperparameters={"n_epochs": 2}), run_id="run-0123456789abcdef"
    )
    assert b.find_run("run-0123456789abcdef").id == job.id  # at-most-once creation works here too
    done = wait(b, job.id, poll_interval=0.2, sleep=time.sleep)
    assert done.status == "succeeded" and done.backend == "openai"
    answer = b.complete(done.fine_tuned_model, [SYSTEM, {"role": "user", "content": "Ticket 2"}], max_tokens=4)
    assert 0 < answer.usage.completion_tokens <= 4
    second = b.create_job(JobSpec(model="tiny", training_file=f.id, hyperparameters={"n_epochs": 30}))
    assert b.cancel(second.id).status == "cancelled"


def test_serve_refuses_a_public_address_without_a_key(run_cli) -> None:
    r = run_cli("serve", "--host", "0.0.0.0")
    assert r.exit_code == 2 and "refusing to listen on 0.0.0.0 without a key" in r.output


def test_metrics_csv_is_served_only_for_its_own_name(server: str) -> None:
    c = client(server)
    with pytest.raises(openai.NotFoundError):
        c.files.content("ftjob-000000000000000000000000:../../job.json")


def test_each_key_sees_only_its_own_files_jobs_and_fine_tunes(tiny: Path, tmp_path: Path) -> None:
    from local_backend import LocalBackend

    app = create_app(
        ServerConfig(keys=[KEY, "sk-other-team-0123456789"], models={"tiny": str(tiny)}),
        LocalBackend(tmp_path / "store", max_running=1),
    )
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/v1"
    mine, theirs = client(url), client(url, "sk-other-team-0123456789")
    f = mine.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    job = mine.fine_tuning.jobs.create(training_file=f.id, model="tiny", hyperparameters={"n_epochs": 1})
    assert list(theirs.files.list()) == [] and list(theirs.fine_tuning.jobs.list()) == []
    with pytest.raises(openai.NotFoundError):
        theirs.fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.NotFoundError):
        theirs.files.content(f.id)
    with pytest.raises(openai.BadRequestError):  # nor train on another key's file
        theirs.fine_tuning.jobs.create(training_file=f.id, model="tiny")
    while (job := mine.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed"):
        time.sleep(0.3)
    assert job.fine_tuned_model in {m.id for m in mine.models.list()}
    assert job.fine_tuned_model not in {m.id for m in theirs.models.list()}
    with pytest.raises(openai.NotFoundError):
        theirs.chat.completions.create(model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}])
    srv.should_exit = True


def test_jobs_wait_in_the_queue_one_at_a_time(server: str, tmp_path: Path) -> None:
    c = client(server)
    f = c.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    first = c.fine_tuning.jobs.create(training_file=f.id, model="tiny", hyperparameters={"n_epochs": 3})
    second = c.fine_tuning.jobs.create(training_file=f.id, model="tiny", hyperparameters={"n_epochs": 1})
    assert c.fine_tuning.jobs.retrieve(second.id).status == "queued"
    seen_together = False
    while (a := c.fine_tuning.jobs.retrieve(first.id)).status not in ("succeeded", "failed"):
        b = c.fine_tuning.jobs.retrieve(second.id)
        seen_together |= a.status == "running" and b.status == "running"
        time.sleep(0.2)
    while (b := c.fine_tuning.jobs.retrieve(second.id)).status not in ("succeeded", "failed"):
        time.sleep(0.2)
    assert a.status == b.status == "succeeded" and not seen_together
    assert (b.created_at or 0) >= (a.created_at or 0)


def test_a_full_queue_answers_429(server: str, tmp_path: Path) -> None:
    c = client(server)
    f = c.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    running = c.fine_tuning.jobs.create(training_file=f.id, model="tiny", hyperparameters={"n_epochs": 30})
    waiting = [c.fine_tuning.jobs.create(training_file=f.id, model="tiny") for _ in range(2)]
    with pytest.raises(openai.RateLimitError) as full:
        c.fine_tuning.jobs.create(training_file=f.id, model="tiny")
    assert full.value.body["code"] == "queue_full"
    for job in [running, *waiting]:
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"


def test_sixteen_clients_lose_no_chat_and_are_batched(server: Served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def five_chats(i: int) -> list[int]:
        c = client(server)
        return [
            c.chat.completions.create(
                model="tiny", max_tokens=4, messages=[{"role": "user", "content": f"client {i} question {k}"}]
            ).usage.completion_tokens
            for k in range(5)
        ]

    with ThreadPoolExecutor(16) as pool:
        answers = [n for row in pool.map(five_chats, range(16)) for n in row]
    assert len(answers) == 80 and all(0 < n <= 4 for n in answers)
    stats = server.app.state.batcher.stats  # type: ignore[attr-defined]
    assert stats.requests == 80 and stats.batches < 40 and stats.largest > 4  # generated together, not one by one


def test_a_killed_server_and_worker_lose_nothing(tiny: Path, tmp_path: Path) -> None:
    """kill -9 the server and the job's worker mid-training (a crash): the restarted server lists the same files
    and jobs, resumes the job from its last checkpoint, and it succeeds."""
    import os
    import signal

    home = tmp_path / "home"
    env = {**os.environ, "FTADVISOR_HOME": str(home)}
    port = _free_port()
    cmd = [
        str(ROOT / ".venv" / "bin" / "ftadvisor"),
        "serve",
        "--port",
        str(port),
        "--api-key",
        KEY,
        "--model",
        f"tiny={tiny}",
    ]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(300):
            try:
                client(f"http://127.0.0.1:{port}/v1").models.list()
                return proc
            except openai.APIConnectionError:
                time.sleep(0.1)
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server did not start")

    server = start()
    c = client(f"http://127.0.0.1:{port}/v1")
    f = c.files.create(file=dataset(tmp_path / "t.jsonl", 12).open("rb"), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(training_file=f.id, model="tiny", hyperparameters={"n_epochs": 10, "batch_size": 1})
    folder = home / "local" / "jobs" / job.id
    while not any((folder / "checkpoints").glob("step-*")) if (folder / "checkpoints").is_dir() else True:
        time.sleep(0.2)
    worker = int(json.loads((folder / "worker.json").read_text())["pid"])
    server.send_signal(signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)
    server.wait(10)

    server = start()
    try:
        assert [x.id for x in c.files.list()] == [f.id]
        while (done := c.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.3)
        assert done.status == "succeeded", done.error
        messages = [e.message for e in c.fine_tuning.jobs.list_events(job.id, limit=100)]
        assert "Resuming from the last checkpoint" in messages
        assert done.fine_tuned_model in {m.id for m in c.models.list()}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def test_the_queue_runs_one_job_per_device_each_on_its_own_gpu(tiny: Path, tmp_path: Path) -> None:
    """Two (declared) GPUs: two jobs train at once, each worker told its own device; a third waits."""
    from local_backend import LocalBackend

    b = LocalBackend(tmp_path / "store", max_running="per-device", devices=["cuda:0", "cuda:1"])
    f = b.upload(dataset(tmp_path / "t.jsonl", 12))
    jobs = [
        b.create_job(JobSpec(model=str(tiny), training_file=f.id, hyperparameters={"n_epochs": 2})) for _ in range(3)
    ]
    assert [b.get_job(j.id).status for j in jobs][2] == "queued"
    devices = sorted(json.loads((b.root / "jobs" / j.id / "worker.json").read_text())["device"] for j in jobs[:2])
    assert devices == ["cuda:0", "cuda:1"] and not (b.root / "jobs" / jobs[2].id / "worker.json").exists()
    for j in jobs[:2]:
        wait(b, j.id, poll_interval=0.2, sleep=time.sleep)
    assert b.schedule() == [jobs[2].id]
    assert wait(b, jobs[2].id, poll_interval=0.2, sleep=time.sleep).status == "succeeded"
