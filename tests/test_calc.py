"""The calculators page computes what the Python API computes: its JavaScript is generated from the API's
source (ftadvisor/calc/pyjs.py), and a real Chromium checks 200 random inputs against the API."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ftadvisor.advisor.breakeven import break_even
from ftadvisor.advisor.caching import Caching
from ftadvisor.advisor.decision import EXAMPLES_NEEDED, Answers, FineTuneOption, advise, rule_examples
from ftadvisor.advisor.lora import ALL_LINEAR, PRESET_SHAPES, MemorySettings, ModelShape, lora_size
from ftadvisor.advisor.scenario import Scenario, breakeven_input
from ftadvisor.calc.pyjs import Export, Unsupported, translate
from ftadvisor.errors import InputError
from ftadvisor.pricing.catalogue import ModelEntry
from ftadvisor.pricing.training import default_epochs
from tests.browser import browser, open_page, screenshots

N_RANDOM = 200


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datetime as dt

    from ftadvisor.calc.page import write_page

    return write_page(tmp_path_factory.mktemp("calc") / "calc.html", today=dt.date(2026, 11, 24))


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


# ----- the translator


def _slicing(xs: list[int]) -> list[int]:
    return xs[1:]


def _uses_unexported(x: float) -> float:
    return _slicing([1, 2])[0] + x


def test_outside_the_subset_is_refused_with_file_and_line() -> None:
    with pytest.raises(Unsupported, match=r"test_calc\.py:\d+: slicing is outside the subset"):
        translate(Export(functions=[_slicing]))
    with pytest.raises(Unsupported, match=r"_slicing\(\) \(not exported to the page\)"):
        translate(Export(functions=[_uses_unexported]))


def test_format_and_round_follow_python(chromium, page_file: Path) -> None:
    """CPython rounds half to even on the exact binary value; JavaScript's toFixed rounds ties up."""
    rng = random.Random(7)
    values = [
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        0.125,
        0.375,
        2.675,
        1.005,
        1e-5,
        0.0001,
        1e16,
        123456789.0,
        999.95,
        9.995,
        0.045,
        1234.5,
        -1234.5678,
        5e-324,
        1.7976931348623157e308,
        0.97,
        1 / 3,
    ]
    values += [rng.uniform(-1e6, 1e6) for _ in range(60)] + [
        rng.random() * 10 ** rng.randint(-8, 12) for _ in range(60)
    ]
    values += [round(rng.uniform(0, 1000)) + 0.5 for _ in range(20)] + [rng.randint(0, 10**7) / 8 for _ in range(20)]
    specs = [",.2f", ".1f", ".0f", ",.0f", ".6f", ".0%", ".1%", "g", ".3g", ",", ",.1f", ".2e"]
    ints = [0, 7, 1000, 1234567, -42, 10**15]
    cases = [(v, s) for v in values for s in specs if s != "," or v != int(v)]  # 2.0 prints as the int 2
    cases += [(i, s) for i in ints for s in ("", ",", "d", ",d", "g")]
    cases += [(v, "") for v in values if v != int(v)]
    page = open_page(chromium, page_file)
    got = page.page.evaluate("cases => cases.map(([v, s]) => pyrt.format(v, s))", cases)
    want = [format(v, s) for v, s in cases]
    bad = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
    assert not bad, bad[:10]
    rounds = [(v, n) for v in values if abs(v) < 1e15 for n in (None, 0, 1, 2, 3)]
    got = page.page.evaluate("cases => cases.map(([v, n]) => pyrt.round(v, n))", rounds)
    want = [round(v) if n is None else round(v, n) for v, n in rounds]
    assert [(c, g) for c, g, w in zip(rounds, got, want, strict=True) if g != w] == []
    page.check()


# ----- 200 random inputs against the API


def _random_fields(rng: random.Random, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    prompted = [k for k, v in models.items() if v["prompted"]]
    tunable = [k for k, v in models.items() if v["fine_tunable"]]

    def maybe(p: float, value: Any, other: Any = "") -> Any:
        return value if rng.random() < p else other

    def price() -> str:
        return maybe(0.85, str(round(rng.uniform(0.02, 20), rng.choice([2, 3, 4]))))

    f: dict[str, Any] = {"be-base": rng.choice(prompted), "be-ft": rng.choice(tunable)}
    overrides = {
        k: price()
        for k in ("be-base-input", "be-base-cached", "be-base-output", "be-ft-input", "be-ft-cached", "be-ft-output")
    }
    f["overrides"] = {k: v for k, v in overrides.items() if rng.random() < 0.2}
    if rng.random() < 0.3:
        f["overrides"]["be-gpu"] = maybe(0.8, str(round(rng.uniform(0.3, 6), 2)))
    f |= {
        "be-prompt-tokens": str(rng.choice([0, 1023, 1024, 1151, 1152, rng.randint(0, 8000)])),
        "be-input-tokens": str(rng.randint(0, 3000)),
        "be-output-tokens": str(rng.randint(0, 1500)),
        "be-ft-prompt-tokens": str(maybe(0.3, rng.randint(0, 400), 0)),
        "be-rpd": rng.choice(["", "0", str(round(math.exp(rng.uniform(0, 12)), 1)), str(rng.randint(1, 500000))]),
        "be-cache": rng.choice(["derived", "given", "off"]),
        "be-hit-rate": str(round(rng.random(), 2)),
        "be-train-cost": str(round(rng.uniform(0, 5000), 2)),
        "be-examples": str(rng.randint(0, 3000)),
        "be-cost-per-example": str(round(rng.uniform(0, 20), 2)),
        "be-retraining": str(maybe(0.3, round(rng.uniform(0, 500), 2), 0)),
        "be-hosting": maybe(0.25, str(round(rng.uniform(0, 3000), 2))),
        "be-own-hardware": rng.random() < 0.3,
    }
    if rng.random() < 0.4:
        f["be-lifetime"] = maybe(0.5, str(round(rng.uniform(0, 800), 1)))
    shape = rng.choice([*PRESET_SHAPES, "custom"])
    f["lora-model"] = shape
    if shape == "custom" or rng.random() < 0.2:
        heads = rng.choice([8, 16, 32, 40])
        f["lora-shape"] = {
            "lora-hidden": str(heads * rng.choice([64, 128])),
            "lora-intermediate": str(rng.randint(1000, 30000)),
            "lora-heads": str(heads),
            "lora-kv-heads": str(rng.choice([1, 2, 4, 8])),
            "lora-head-dim": str(rng.choice([64, 128])),
            "lora-layers": str(rng.randint(1, 96)),
            "lora-vocab": str(rng.randint(1000, 260000)),
            "lora-tied": rng.random() < 0.5,
            "lora-bias": rng.random() < 0.5,
        }
    targets = [t for t in ALL_LINEAR if rng.random() < 0.6]
    f |= {f"lora-t-{t}": t in targets for t in ALL_LINEAR}
    f |= {
        "lora-rank": str(rng.choice([1, 8, 16, 64, rng.randint(1, 512)])),
        "lora-seq": str(rng.choice([128, 2048, rng.randint(1, 32768)])),
        "lora-batch": str(rng.randint(1, 16)),
        "lora-opt": rng.choice(["adamw", "adamw-8bit", "paged-adamw-8bit"]),
        "lora-loss": rng.choice(["fp32", "fp32-legacy", "chunked"]),
        "lora-dtype": rng.choice(["2", "4"]),
        "lora-gpus": str(rng.choice([1, 2, 8])),
        "lora-sharding": rng.choice(["none", "fsdp"]),
        "lora-gpu-mem": maybe(0.8, str(rng.choice([8, 16, 24, 40, 80, round(rng.uniform(1, 200), 1)]))),
        "lora-ckpt": rng.random() < 0.7,
        "lora-upcast": rng.random() < 0.7,
    }
    changes = ["never", "yearly", "monthly", "weekly", "daily"]
    f |= {
        "dec-task": rng.choice(list(EXAMPLES_NEEDED)),
        "dec-facts": rng.choice(changes[:1] * 4 + changes),
        "dec-behaviour": rng.choice(changes[:1] * 4 + changes),
        "dec-examples": str(rng.choice([0, 49, 50, 99, 100, 500, rng.randint(0, 20000)])),
        "dec-compliance": maybe(0.7, str(round(rng.random(), 2))),
        "dec-required": str(round(rng.uniform(0.8, 0.99), 2)),
        "dec-budget": maybe(0.4, str(rng.randint(0, 3000))),
        "dec-latency": maybe(0.3, str(rng.randint(50, 3000))),
        "dec-can-create": rng.choice(["yes", "no", "unknown"]),
        "dec-data-may-leave": rng.random() < 0.8,
        "dec-use-option": rng.random() < 0.8,
        "ex-task": rng.choice(list(EXAMPLES_NEEDED)),
        "ex-n": str(rng.choice([0, 10, 33, 34, 50, 8333, 8334, rng.randint(0, 50000)])),
    }
    return f


SET_FIELDS = """f => {
  const $ = (id) => document.getElementById(id);
  const set = (id, v) => { if (typeof v === "boolean") $(id).checked = v; else $(id).value = v; };
  const fire = (id, type) => $(id).dispatchEvent(new Event(type, { bubbles: true }));
  set("be-base", f["be-base"]); fire("be-base", "change");
  set("be-ft", f["be-ft"]); fire("be-ft", "change");
  const filled = {};
  for (const id of ["be-base-input", "be-base-cached", "be-base-output", "be-ft-input", "be-ft-cached",
                    "be-ft-output", "be-gpu", "be-lifetime"]) filled[id] = $(id).value;
  for (const [id, v] of Object.entries(f.overrides)) set(id, v);
  set("lora-model", f["lora-model"]); fire("lora-model", "change");
  for (const [id, v] of Object.entries(f["lora-shape"] || {})) set(id, v);
  for (const [id, v] of Object.entries(f)) if (id !== "overrides" && id !== "lora-shape" && id !== "be-base"
      && id !== "be-ft" && id !== "lora-model") set(id, v);
  fire("be-rpd", "input"); fire("lora-rank", "input"); fire("dec-task", "change"); fire("ex-n", "input");
  const fields = {};
  document.querySelectorAll("input, select").forEach((el) => {
    if (el.id) fields[el.id] = el.type === "checkbox" ? el.checked : el.value; });
  const outputs = {};
  document.querySelectorAll("[data-value]").forEach((el) => {
    outputs[el.id] = { text: el.textContent, value: JSON.parse(el.dataset.value) }; });
  const cells = (id) => [...document.querySelectorAll("#" + id + " tr")].slice(1).map((tr) =>
    [...tr.children].map((td) => td.textContent));
  return { filled, fields, outputs, be_table: cells("be-table"), lora_table: cells("lora-table") };
}"""


def _num(v: str) -> float | None:
    return None if v.strip() == "" else float(v)


def _entry(row: dict[str, Any], **prices: float | None) -> ModelEntry:
    fields = {k: v for k, v in row.items() if k in ModelEntry.model_fields}
    return ModelEntry(**{**fields, **prices})


def _or0(v: str) -> float:
    x = _num(v)
    return 0.0 if x is None else x


def _expected_breakeven(f: dict[str, Any], models: dict[str, dict[str, Any]]):  # type: ignore[no-untyped-def]
    base = _entry(
        models[f["be-base"]],
        base_input=_num(f["be-base-input"]),
        base_cached_input=_num(f["be-base-cached"]),
        base_output=_num(f["be-base-output"]),
    )
    ft = _entry(
        models[f["be-ft"]],
        ft_input=_num(f["be-ft-input"]),
        ft_cached_input=_num(f["be-ft-cached"]),
        ft_output=_num(f["be-ft-output"]),
        gpu_per_hour=_num(f["be-gpu"]),
    )
    mode = f["be-cache"]
    caching = Caching(enabled=mode != "off", hit_rate=_num(f["be-hit-rate"]) if mode == "given" else None)
    rpd = _num(f["be-rpd"]) or None
    s = Scenario(
        prompt_tokens=_or0(f["be-prompt-tokens"]),
        input_tokens=_or0(f["be-input-tokens"]),
        output_tokens=_or0(f["be-output-tokens"]),
        ft_prompt_tokens=_or0(f["be-ft-prompt-tokens"]),
        cache_hit_rate=caching.rate(rpd),
    )
    data = _or0(f["be-examples"]) * _or0(f["be-cost-per-example"])
    inp = breakeven_input(
        base,
        ft,
        s,
        _or0(f["be-train-cost"]),
        data,
        rpd,
        _num(f["be-lifetime"]),
        _num(f["be-hosting"]),
        _or0(f["be-retraining"]),
        f["be-own-hardware"],
    )
    return ft, caching, rpd, inp, break_even(inp)


def _close(got: Any, want: Any, where: str) -> None:
    """Equal, floats to 1e-12 relative (V8's and the C library's exp() may differ in the last bit)."""
    if isinstance(want, float) or isinstance(got, float):
        assert want is not None and got is not None and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300), (
            where,
            got,
            want,
        )
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    else:
        assert got == want, (where, got, want)


def _check_one(res: dict[str, Any], models: dict[str, dict[str, Any]]) -> dict[str, int]:
    f, out = res["fields"], res["outputs"]
    seen = {"breakeven": 0, "breakeven_error": 0, "fit": 0, "lora_error": 0}
    # the model's prices and days left were filled from the catalogue before any override
    ft_row = models[f["be-ft"]]
    assert res["filled"]["be-ft-input"] == (
        "" if ft_row["ft_input"] is None else format(ft_row["ft_input"], "").removesuffix(".0")
    )
    option = None
    try:
        ft, caching, rpd, inp, r = _expected_breakeven(f, models)
    except InputError as exc:
        assert out["be-error"]["text"] == str(exc)
        seen["breakeven_error"] += 1
    except ValidationError as exc:
        assert out["be-error"]["text"] and out["be-error"]["text"] in str(exc)
        seen["breakeven_error"] += 1
    else:
        seen["breakeven"] += 1
        assert out["be-error"]["text"] == ""
        assert out["be-verdict"]["text"] == r.verdict
        assert out["be-caching"]["text"] == caching.describe(rpd)
        for key, want in (
            ("be-prompt-cost", inp.prompt_cost),
            ("be-ft-cost", inp.ft_cost),
            ("be-monthly", inp.monthly_cost),
            ("be-requests", r.break_even_requests),
            ("be-days", r.break_even_days),
            ("be-net", r.net_savings_over_lifetime_usd),
        ):
            _close(out[key]["value"], want, key)
        assert out["be-days"]["text"] == ("-" if r.break_even_days is None else format(r.break_even_days, ",.1f"))
        assert res["be_table"] == [
            [
                p.label,
                format(p.days, ",.1f"),
                format(p.requests, ","),
                f"${p.prompt_cost_usd:,.2f}",
                f"${p.ft_cost_usd:,.2f}",
                p.cheaper,
            ]
            for p in r.cumulative
        ]
        if f["dec-use-option"]:
            can = {"yes": True, "no": False, "unknown": None}[f["dec-can-create"]]
            option = FineTuneOption(
                kind="local" if ft.self_hosted else "hosted",
                model=ft.id,
                setup_usd=inp.train_cost + inp.data_cost,
                per_request_usd=inp.ft_cost,
                monthly_usd=inp.monthly_cost,
                priced=True,
                break_even_days=r.break_even_days,
                lifetime_days=r.lifetime_days,
                can_create_job=True if ft.self_hosted else can,
                availability=[] if can is True or ft.self_hosted else ["as answered in the decision tool"],
            )
    a = Answers(
        task_type=f["dec-task"],
        facts_change=f["dec-facts"],
        behaviour_changes=f["dec-behaviour"],
        labelled_examples=int(_or0(f["dec-examples"])),
        prompt_compliance=_num(f["dec-compliance"]),
        required_compliance=_num(f["dec-required"]),
        requests_per_day=_num(f["be-rpd"]) or None,
        setup_budget=_num(f["dec-budget"]),
        latency_ms=_num(f["dec-latency"]),
        data_may_leave=f["dec-data-may-leave"],
        hosted=option if option and option.kind == "hosted" else None,
        local=option if option and option.kind == "local" else None,
        prompt_per_request_usd=inp.prompt_cost if option else None,
    )
    rec = advise(a)
    seen[f"choice {rec.choice}"] = 1
    assert out["dec-choice"]["value"] == rec.choice
    _close(out["dec-reasons"]["value"], rec.reasons, "reasons")
    _close(out["dec-risks"]["value"], rec.risks, "risks")

    preset = PRESET_SHAPES.get(f["lora-model"])
    shape = ModelShape(
        model_type=preset.model_type if preset else "llama",
        hidden=int(f["lora-hidden"]),
        intermediate=int(f["lora-intermediate"]),
        heads=int(f["lora-heads"]),
        kv_heads=int(f["lora-kv-heads"]),
        head_dim=int(f["lora-head-dim"]),
        layers=int(f["lora-layers"]),
        vocab=int(f["lora-vocab"]),
        tied_embeddings=f["lora-tied"],
        attention_bias=f["lora-bias"],
    )
    settings = MemorySettings(
        seq_len=int(f["lora-seq"]),
        batch_size=int(f["lora-batch"]),
        gradient_checkpointing=f["lora-ckpt"],
        optimizer=f["lora-opt"],
        loss=f["lora-loss"],
        dtype_bytes=int(f["lora-dtype"]),
        upcast=f["lora-upcast"],
        gpus=int(f["lora-gpus"]),
        sharding=f["lora-sharding"],
    )
    targets = [t for t in ALL_LINEAR if f[f"lora-t-{t}"]]
    size = lora_size(shape, int(f["lora-rank"]), targets, settings, gpu_memory_gib=_num(f["lora-gpu-mem"]))
    assert out["lora-trainable"]["value"] == size.trainable_params
    assert out["lora-trainable"]["text"] == format(size.trainable_params, ",")
    _close(out["lora-percent"]["value"], size.trainable_percent, "percent")
    for m in ("full", "lora", "qlora"):
        _close(out[f"lora-mem-{m}"]["value"], size.memory_gb[m], m)
    if size.fit is not None:
        seen["fit"] += 1
        _close(out["lora-fit"]["value"], size.fit.model_dump(), "fit")
    assert res["lora_table"] == [
        [
            m.module,
            format(m.d_in, ","),
            format(m.d_out, ","),
            format(m.full_params, ","),
            format(m.lora_params, ","),
            f"{m.reduction:,.1f}x",
        ]
        for m in size.per_matrix
    ]

    n = int(_or0(f["ex-n"]))
    ex = Answers(task_type=f["ex-task"], labelled_examples=n)
    assert out["ex-range"]["value"] == list(EXAMPLES_NEEDED[f["ex-task"]])
    assert out["ex-epochs"]["value"] == default_epochs(n) and out["ex-trained"]["value"] == n * default_epochs(n)
    assert out["ex-reason"]["text"] == rule_examples(ex).reason  # type: ignore[union-attr]
    return seen


def test_calculators_equal_the_api_on_200_random_inputs(chromium, page_file: Path) -> None:
    page = open_page(chromium, page_file)
    models = page.page.evaluate("() => DATA.models")
    rng = random.Random(20261124)
    totals: dict[str, int] = {}
    for _ in range(N_RANDOM):
        res = page.page.evaluate(SET_FIELDS, _random_fields(rng, models))
        for k, v in _check_one(res, models).items():
            totals[k] = totals.get(k, 0) + v
    page.check()
    # the random inputs reached both the priced paths and the refusals
    assert totals["breakeven"] > 100 and totals["breakeven_error"] > 5 and totals["fit"] > 100, totals
    assert len([k for k in totals if k.startswith("choice ")]) >= 4, totals  # the decision tree's branches too


def test_page_is_self_contained_prefilled_and_screenshotted(chromium, tmp_path: Path, run_cli) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})
            + "\n"
            for i in range(60)
        )
    )
    out = tmp_path / "calc.html"
    r = run_cli("calc", "--data", data, "--model", "gpt-4o-mini", "--out", out, "--as-of", "2026-11-24")
    assert r.exit_code == 0, r.output
    assert "works offline" in r.stdout
    page = open_page(chromium, out)
    fields = page.page.evaluate(
        "() => ({ft: document.getElementById('be-ft').value, "
        "examples: document.getElementById('be-examples').value, "
        "source: document.getElementById('source').textContent})"
    )
    assert fields["ft"] == "gpt-4o-mini-2024-07-18" and fields["examples"] == "60"
    assert "train.jsonl on gpt-4o-mini-2024-07-18" in fields["source"]
    assert page.page.locator("#be-chart .main-svg").count() > 0  # Plotly drew the chart, offline
    page.check()
    shots = screenshots(chromium, out, "calc")
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_calc_refuses_bad_input(run_cli, tmp_path: Path) -> None:
    r = run_cli("calc", "--from-ledger", "eval-nope", "--out", tmp_path / "c.html")
    assert r.exit_code != 0 and "no job or evaluation run 'eval-nope'" in r.output
    assert not (tmp_path / "c.html").exists()
