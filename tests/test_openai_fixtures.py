"""Every recorded response is shaped as the API's: it parses with the openai SDK's own types, with no key
the SDK does not know."""

from __future__ import annotations

import json

import pytest
from openai._models import construct_type
from openai.types import FileObject, Model
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from openai.types.upload import Upload
from openai.types.uploads import UploadPart
from pydantic import BaseModel

from tests.conftest import FIXTURES

TYPES = {
    "file_": FileObject,
    "upload_part": UploadPart,
    "upload_": Upload,
    "job_": FineTuningJob,
    "jobs_list": FineTuningJob,
    "events_page": FineTuningJobEvent,
    "checkpoints_page": FineTuningJobCheckpoint,
    "chat_completion": ChatCompletion,
    "model_": Model,
}
FILES = sorted(p for p in (FIXTURES / "openai").glob("*.json"))


def unknown_keys(model: BaseModel, prefix: str = "") -> list[str]:
    """Keys present in the data that the SDK type does not declare (the SDK keeps them as extras)."""
    found = [f"{prefix}{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                found += unknown_keys(item, f"{prefix}{name}.")
    return found


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture_parses_with_sdk_types(path) -> None:
    data = json.loads(path.read_text())
    if path.stem.startswith("error_"):
        assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}
        return
    kind = next(t for prefix, t in TYPES.items() if path.stem.startswith(prefix))
    items = data["data"] if data.get("object") == "list" else [data]
    for item in items:
        parsed = construct_type(type_=kind, value=item)  # how the SDK itself reads a response
        assert unknown_keys(parsed) == [], path.name
        # Full validation of every declared field, after undoing the two deviations real responses have
        # (documented in shared/reference): `error: {}` on healthy jobs and statuses outside the enum.
        kind.model_validate(_without_known_deviations(item))


def _without_known_deviations(item: dict) -> dict:
    item = dict(item)
    if item.get("error") == {}:
        item["error"] = None
    if item.get("object") == "fine_tuning.job" and item["status"] == "paused":
        item["status"] = "running"
    return item


def test_the_unknown_status_is_really_unknown_to_the_sdk() -> None:
    job = construct_type(type_=FineTuningJob, value=json.loads((FIXTURES / "openai" / "job_paused.json").read_text()))
    assert job.status == "paused"
    assert "paused" not in FineTuningJob.model_fields["status"].annotation.__args__
