"""The Azure and Together recordings are shaped as those APIs return them: each parses with its provider's own
SDK types (openai's for Azure, together's for Together), and the keys an SDK does not declare are exactly the
provider's documented extras."""

from __future__ import annotations

import json

import pytest
from openai.types import FileObject
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from tests.conftest import FIXTURES
from tests.test_openai_fixtures import unknown_keys

AZURE = {
    "file_": FileObject,
    "job_": FineTuningJob,
    "events_page": FineTuningJobEvent,
    "chat_completion": ChatCompletion,
}
# What Azure adds to OpenAI's objects: the job's suffix, and content-filter results on chat completions.
AZURE_EXTRAS = {"job_": ["suffix"], "chat_completion": ["prompt_filter_results", "choices.content_filter_results"]}
AZURE_FILES = sorted(p for p in (FIXTURES / "azure").glob("*.json") if not p.stem.startswith("deployment_"))


@pytest.mark.parametrize("path", AZURE_FILES, ids=[p.stem for p in AZURE_FILES])
def test_azure_fixture_parses_with_the_openai_sdk(path) -> None:
    data = json.loads(path.read_text())
    prefix = next(p for p in AZURE if path.stem.startswith(p))
    for item in data["data"] if data.get("object") == "list" else [data]:
        if item.get("status") == "pending":  # Azure's status, outside OpenAI's enum: the SDK keeps the string
            item = {**item, "status": "queued"}
        parsed = AZURE[prefix].model_validate(item)
        assert unknown_keys(parsed) == AZURE_EXTRAS.get(prefix, []), path.name


def test_azure_deployment_is_the_resource_manager_shape() -> None:
    for state in ("creating", "succeeded"):
        d = json.loads((FIXTURES / "azure" / f"deployment_{state}.json").read_text())
        assert d["type"] == "Microsoft.CognitiveServices/accounts/deployments"
        assert d["properties"]["provisioningState"] == state.capitalize()
        assert d["properties"]["model"]["format"] == "OpenAI" and ".ft-" in d["properties"]["model"]["name"]


def _together_types() -> dict[str, type]:
    pytest.importorskip("together")
    from together.types import FileResponse
    from together.types.chat.chat_completion import ChatCompletion as TogetherChat
    from together.types.fine_tuning_estimate_price_response import AvailableEstimate
    from together.types.fine_tuning_list_checkpoints_response import FineTuningListCheckpointsResponse
    from together.types.fine_tuning_list_events_response import FineTuningListEventsResponse
    from together.types.finetune_model_limits import FinetuneModelLimits
    from together.types.finetune_response import FinetuneResponse

    return {
        "file_": FileResponse,
        "job_": FinetuneResponse,
        "events": FineTuningListEventsResponse,
        "checkpoints": FineTuningListCheckpointsResponse,
        "estimate_price": AvailableEstimate,
        "model_limits": FinetuneModelLimits,
        "chat_completion": TogetherChat,
    }


TOGETHER_FILES = sorted((FIXTURES / "together").glob("*.json"))


@pytest.mark.parametrize("path", TOGETHER_FILES, ids=[p.stem for p in TOGETHER_FILES])
def test_together_fixture_parses_with_the_together_sdk(path) -> None:
    types = _together_types()
    kind = next(t for prefix, t in types.items() if path.stem.startswith(prefix))
    parsed = kind.model_validate(json.loads(path.read_text()))
    assert unknown_keys(parsed) == [], path.name
