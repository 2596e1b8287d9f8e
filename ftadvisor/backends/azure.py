"""Azure OpenAI fine-tuning: OpenAI's job API under Azure's endpoint, key (or Entra ID token), api-version
and retirement schedule, through the same ``openai`` SDK (``AzureOpenAI``), so that every careful edge of the
OpenAI backend (create at most once, reconciled uploads, redaction) carries over unchanged.

What differs, and lives here: credentials and URLs; job ids of 32 hex digits and fine-tuned models named
``<base>.ft-<id>``; Azure's extra statuses (``pending``, ``notRunning``); chat goes to a *deployment*, not a
model, and a deployed fine-tune is billed by the hour whether used or not (``hosting_per_hour`` in the
catalogue) and deleted after 15 idle days. ``deploy`` creates the deployment through Azure Resource Manager's
documented endpoint (``PUT .../accounts/{resource}/deployments/{name}``); without management credentials it
raises with the exact ``az`` command to run instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

from ftadvisor.backends.base import BackendOptions, Completion, Deployment, Job, NoOptions
from ftadvisor.backends.openai_api import BackendError, OpenAIBackend
from ftadvisor.errors import InputError
from ftadvisor.secrets import redact

DEFAULT_API_VERSION = "2025-04-01-preview"
MANAGEMENT_URL = "https://management.azure.com"
MANAGEMENT_API_VERSION = "2024-10-01"
_OWN_JOB = re.compile(r"ftjob-[0-9a-f]{32}")
_STATUSES = {"pending": "queued", "created": "queued", "notRunning": "queued"}  # Azure's words for "waiting"
DEPLOY_POLL_S = 10.0
DEPLOY_WAIT_S = 1800.0


def _deployments_file() -> Any:
    from ftadvisor.config import user_dir

    return user_dir() / "azure-deployments.json"


class AzureBackend(OpenAIBackend):
    """Azure OpenAI: the OpenAI backend with Azure's endpoint, credentials, names and deployments."""

    name = "azure"
    provider = "azure"
    methods = frozenset({"sft", "dpo"})
    Options: type[BackendOptions] = NoOptions  # Azure has no W&B integration

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        ad_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key=api_key or os.environ.get("AZURE_OPENAI_API_KEY") or "", **kwargs)
        self._endpoint = endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT") or ""
        self._api_version = api_version or os.environ.get("AZURE_OPENAI_API_VERSION") or DEFAULT_API_VERSION
        self._ad_token = ad_token or os.environ.get("AZURE_OPENAI_AD_TOKEN") or ""
        if self._ad_token and not self._key:
            self._key = self._ad_token  # redacted like a key wherever a server echoes it

    def _make_client(self) -> Any:
        if not self._endpoint:
            raise InputError(
                "no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT (https://<resource>.openai.azure.com)"
            )
        if not (self._key or self._ad_token):
            raise InputError(
                "no Azure OpenAI credentials: set AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN (an "
                "Entra ID token); neither is ever printed or stored"
            )
        from openai import AzureOpenAI

        timeout, retries = self._client_args["timeout"], self._client_args["max_retries"]
        if self._ad_token:
            return AzureOpenAI(
                azure_endpoint=self._endpoint,
                api_version=self._api_version,
                azure_ad_token=self._ad_token,
                timeout=timeout,
                max_retries=retries,
            )
        return AzureOpenAI(
            azure_endpoint=self._endpoint,
            api_version=self._api_version,
            api_key=self._key,
            timeout=timeout,
            max_retries=retries,
        )

    @classmethod
    def owns(cls, ref: str) -> int:
        return 1 if _OWN_JOB.fullmatch(ref) or ".ft-" in ref else 0

    def _job(self, j: Any) -> Job:
        job = super()._job(j)
        return job.model_copy(update={"status": _STATUSES.get(job.status, job.status)})

    def model_shutdown(self, model: str) -> dt.date | None:
        """Azure's models endpoint lists a lifecycle per model; its inference retirement is what ends a
        deployed fine-tune (None when unknown: advisory only)."""
        import openai

        try:
            m = self.client.with_options(max_retries=0, timeout=10).models.retrieve(model)
            dep = (m.model_dump().get("deprecation") or {}) if hasattr(m, "model_dump") else {}
            when = dep.get("inference")
            if isinstance(when, (int, float)):
                return dt.datetime.fromtimestamp(when, dt.timezone.utc).date()
            return dt.date.fromisoformat(str(when)[:10]) if when else None
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, InputError):
            return None

    # --- use: chat goes to a deployment -------------------------------------------------------------------------

    def _deployment_for(self, model: str) -> str:
        """A fine-tuned model id is served by the deployment ``deploy`` made for it; any other name is taken
        as a deployment name (Azure routes chat by deployment)."""
        if ".ft-" not in model:
            return model
        known = _read_deployments()
        if model in known:
            return known[model]
        raise InputError(
            f"{model} is not deployed (Azure serves fine-tunes only through a deployment, billed by the "
            f"hour): run `ftadvisor jobs deploy {model}`, or pass the deployment name as --model"
        )

    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        return super().complete(self._deployment_for(model), messages, max_tokens=max_tokens, temperature=temperature)

    def deploy(self, fine_tuned_model: str, deployment: str | None = None) -> Deployment:
        """Create (or update) a Standard deployment of ``fine_tuned_model`` through Azure Resource Manager and
        wait until it has succeeded. Needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_OPENAI_RESOURCE and
        AZURE_MANAGEMENT_TOKEN (`az account get-access-token --query accessToken -o tsv`)."""
        from ftadvisor.pricing import load_catalogue

        name = deployment or re.sub(r"[^A-Za-z0-9_.-]", "-", fine_tuned_model)[:64]
        sub, group, resource = (
            os.environ.get(k, "") for k in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_OPENAI_RESOURCE")
        )
        token = os.environ.get("AZURE_MANAGEMENT_TOKEN", "")
        if not (sub and group and resource and token):
            raise InputError(
                "deploying needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_OPENAI_RESOURCE and "
                "AZURE_MANAGEMENT_TOKEN; or run: " + az_deploy_command(fine_tuned_model, name)
            )
        base = os.environ.get("AZURE_MANAGEMENT_URL", MANAGEMENT_URL).rstrip("/")
        url = (
            f"{base}/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/"
            f"{resource}/deployments/{name}?api-version={MANAGEMENT_API_VERSION}"
        )
        body = {
            "sku": {"name": "standard", "capacity": 1},
            "properties": {"model": {"format": "OpenAI", "name": fine_tuned_model, "version": "1"}},
        }
        state = self._arm("PUT", url, token, body)
        waited = 0.0
        while state.get("properties", {}).get("provisioningState") not in ("Succeeded", "Failed", "Canceled"):
            if waited >= DEPLOY_WAIT_S:
                break
            self.sleep(DEPLOY_POLL_S)
            waited += DEPLOY_POLL_S
            state = self._arm("GET", url, token)
        status = state.get("properties", {}).get("provisioningState", "unknown")
        if status == "Failed":
            raise BackendError(f"deploying {fine_tuned_model} as {name} failed on Azure")
        _write_deployment(fine_tuned_model, name)
        entry = load_catalogue().find(fine_tuned_model, provider=self.provider)
        return Deployment(
            name=name,
            model=fine_tuned_model,
            status=status.lower(),
            hourly_usd=entry.hosting_per_hour if entry else None,
            note="billed by the hour while it exists; Azure deletes deployments idle for 15 days",
        )

    def _arm(self, method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return dict(json.loads(r.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            error = InputError if exc.code in (400, 401, 403, 404, 409) else BackendError
            raise error(
                redact(f"Azure Resource Manager answered {exc.code} to {method} deployment: {detail}", token)
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise BackendError(f"could not reach Azure Resource Manager ({exc.__class__.__name__})") from None


def az_deploy_command(fine_tuned_model: str, deployment: str) -> str:
    """The documented Azure CLI equivalent of ``deploy``."""
    return (
        f"az cognitiveservices account deployment create --resource-group $AZURE_RESOURCE_GROUP --name "
        f"$AZURE_OPENAI_RESOURCE --deployment-name {deployment} --model-name {fine_tuned_model} --model-version 1 "
        "--model-format OpenAI --sku-name standard --sku-capacity 1"
    )


def _read_deployments() -> dict[str, str]:
    path = _deployments_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_deployment(model: str, deployment: str) -> None:
    from ftadvisor.data.jsonl import atomic_writer

    known = _read_deployments() | {model: deployment}
    path = _deployments_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "w") as f:
        f.write(json.dumps(known, indent=1))


__all__ = ["AzureBackend", "az_deploy_command"]
