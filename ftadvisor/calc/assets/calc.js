// The calculators page: read the fields into the API's models, call the generated formulas, print the results.
// No arithmetic lives here (see ftadvisor/calc/page.py): only display formatting and the chart's grid of days.
const DATA = JSON.parse(document.getElementById("ftadvisor-data").textContent);
const $ = (id) => document.getElementById(id);
const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
const usd = (x, p = 2) => (x === null ? "-" : "$" + pyrt.format(x, "," + "." + p + "f"));
const TARGETS = DATA.targets;

// out: text shown, value: the exact result (a test reads it), kept on the element as JSON.
function show(id, text, value) {
  const el = $(id);
  el.textContent = text;
  el.dataset.value = JSON.stringify(value === undefined ? text : value);
}
function list(id, items) {
  const el = $(id);
  el.replaceChildren(...items.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
  el.dataset.value = JSON.stringify(items);
}
function table(id, head, rows) {
  const el = $(id);
  const tr = (cells, tag) => {
    const r = document.createElement("tr");
    for (const c of cells) { const td = document.createElement(tag); td.textContent = c; r.appendChild(td); }
    return r;
  };
  el.replaceChildren(tr(head, "th"), ...rows.map((r) => tr(r, "td")));
}
function fail(id, e) {
  if (!(e instanceof pyrt.Error)) throw e;  // a bug in the page, not the user's input: let it reach the console
  show(id, e.message);
}
function options(id, pairs) {
  $(id).replaceChildren(...pairs.map(([value, label]) => {
    const o = document.createElement("option"); o.value = value; o.textContent = label; return o;
  }));
}
const plot = (id, traces, layout) => {
  if (window.Plotly) Plotly.react(id, traces, { margin: { t: 30, r: 10, b: 40, l: 60 }, ...layout },
    { displaylogo: false, responsive: true });
};

// ----- break-even
function fillPrices() {
  const b = DATA.models[$("be-base").value], f = DATA.models[$("be-ft").value];
  $("be-base-input").value = b.base_input ?? "";
  $("be-base-cached").value = b.base_cached_input ?? "";
  $("be-base-output").value = b.base_output ?? "";
  $("be-ft-input").value = f.ft_input ?? "";
  $("be-ft-cached").value = f.ft_cached_input ?? "";
  $("be-ft-output").value = f.ft_output ?? "";
  $("be-gpu").value = f.gpu_per_hour ?? "";
  $("be-lifetime").value = f.lifetime_days ?? "";
}

// The inputs exactly as the API takes them (the browser test builds the same objects in Python).
function breakevenInputs() {
  const row = (id) => { const r = { ...DATA.models[$(id).value] }; delete r.lifetime_days; delete r.prompted;
    delete r.fine_tunable; return r; };
  const base = new ModelEntry({ ...row("be-base"), base_input: num("be-base-input"),
    base_cached_input: num("be-base-cached"), base_output: num("be-base-output") });
  const ft = new ModelEntry({ ...row("be-ft"), ft_input: num("be-ft-input"), ft_cached_input: num("be-ft-cached"),
    ft_output: num("be-ft-output"), gpu_per_hour: num("be-gpu") });
  const mode = $("be-cache").value;
  const caching = new Caching({ enabled: mode !== "off", hit_rate: mode === "given" ? num("be-hit-rate") : null });
  const rpd = num("be-rpd") || null;
  const s = new Scenario({ prompt_tokens: num("be-prompt-tokens") ?? 0, input_tokens: num("be-input-tokens") ?? 0,
    output_tokens: num("be-output-tokens") ?? 0, ft_prompt_tokens: num("be-ft-prompt-tokens") ?? 0,
    cache_hit_rate: caching.rate(rpd) });
  const data = (num("be-examples") ?? 0) * (num("be-cost-per-example") ?? 0);
  const inp = breakeven_input(base, ft, s, num("be-train-cost") ?? 0, data, rpd, num("be-lifetime"),
    num("be-hosting"), num("be-retraining") ?? 0, $("be-own-hardware").checked);
  return { base, ft, caching, rpd, inp };
}

let lastOption = null;
function computeBreakeven() {
  show("be-error", "");
  lastOption = null;
  let x, r;
  try {
    x = breakevenInputs();
    r = break_even(x.inp);
  } catch (e) {
    for (const id of ["be-verdict", "be-prompt-cost", "be-ft-cost", "be-monthly", "be-requests", "be-days", "be-net"])
      show(id, "", null);
    return fail("be-error", e);
  }
  const { inp, ft } = x;
  show("be-verdict", r.verdict);
  show("be-prompt-cost", usd(inp.prompt_cost, 6), inp.prompt_cost);
  show("be-ft-cost", usd(inp.ft_cost, 6), inp.ft_cost);
  show("be-monthly", usd(inp.monthly_cost), inp.monthly_cost);
  show("be-requests", r.break_even_requests === null ? "never" : pyrt.format(r.break_even_requests, ","),
    r.break_even_requests);
  show("be-days", r.break_even_days === null ? "-" : pyrt.format(r.break_even_days, ",.1f"), r.break_even_days);
  show("be-net", usd(r.net_savings_over_lifetime_usd), r.net_savings_over_lifetime_usd);
  show("be-caching", x.caching.describe(x.rpd));
  table("be-table", ["after", "days", "requests", "prompting", "fine-tune", "cheaper"], r.cumulative.map((p) =>
    [p.label, pyrt.format(p.days, ",.1f"), pyrt.format(p.requests, ","), usd(p.prompt_cost_usd), usd(p.ft_cost_usd),
      p.cheaper]));
  lastOption = { inp, r, ft };
  if (x.rpd !== null) {
    const horizon = chart_horizon(r);
    const days = Array.from({ length: 201 }, (_, i) => (horizon * i) / 200);
    const costs = days.map((d) => cumulative_costs(inp, d));
    const ftLine = costs.map((c, i) => (r.lifetime_days !== null && days[i] > r.lifetime_days ? null : c[1]));
    const shapes = [], notes = [];
    if (r.lifetime_days !== null && r.lifetime_days <= horizon) {
      shapes.push({ type: "rect", x0: r.lifetime_days, x1: horizon, yref: "paper", y0: 0, y1: 1,
        fillcolor: "#888", opacity: 0.15, line: { width: 0 } });
      notes.push({ x: r.lifetime_days, yref: "paper", y: 1, text: "model shutdown", showarrow: false, xanchor: "left" });
    }
    if (r.break_even_days !== null && r.break_even_days <= horizon) {
      shapes.push({ type: "line", x0: r.break_even_days, x1: r.break_even_days, yref: "paper", y0: 0, y1: 1,
        line: { color: "#1b7f3b", dash: "dash" } });
      notes.push({ x: r.break_even_days, yref: "paper", y: 0.92, showarrow: false, xanchor: "left",
        text: "break-even: day " + pyrt.format(r.break_even_days, ",.1f") });
    }
    plot("be-chart", [
      { x: days, y: costs.map((c) => c[0]), name: "prompting", line: { color: "#b3261e" } },
      { x: days, y: ftLine, name: "fine-tune (training + data + serving)", line: { color: "#1f5fbf" } },
    ], { title: { text: "Cumulative cost", font: { size: 14 } }, xaxis: { title: { text: "days from now" } },
      yaxis: { title: { text: "USD" } }, shapes, annotations: notes, legend: { orientation: "h", y: -0.2 } });
  }
  computeDecision();
}

// ----- LoRA
function fillShape() {
  const s = DATA.shapes[$("lora-model").value];
  if (!s) return;
  for (const [id, k] of [["hidden", "hidden"], ["intermediate", "intermediate"], ["heads", "heads"],
    ["kv-heads", "kv_heads"], ["head-dim", "head_dim"], ["layers", "layers"], ["vocab", "vocab"]])
    $("lora-" + id).value = s[k];
  $("lora-tied").checked = s.tied_embeddings;
  $("lora-bias").checked = s.attention_bias;
}

function loraInputs() {
  const preset = DATA.shapes[$("lora-model").value];
  const shape = new ModelShape({ model_type: preset ? preset.model_type : "llama", hidden: num("lora-hidden"),
    intermediate: num("lora-intermediate"), heads: num("lora-heads"), kv_heads: num("lora-kv-heads"),
    head_dim: num("lora-head-dim"), layers: num("lora-layers"), vocab: num("lora-vocab"),
    tied_embeddings: $("lora-tied").checked, attention_bias: $("lora-bias").checked });
  const targets = TARGETS.filter((t) => $("lora-t-" + t).checked);
  const settings = new MemorySettings({ seq_len: num("lora-seq"), batch_size: num("lora-batch"),
    gradient_checkpointing: $("lora-ckpt").checked, optimizer: $("lora-opt").value, loss: $("lora-loss").value,
    dtype_bytes: Number($("lora-dtype").value), upcast: $("lora-upcast").checked, gpus: num("lora-gpus"),
    sharding: $("lora-sharding").value });
  return { shape, rank: num("lora-rank"), targets, settings, gpu: num("lora-gpu-mem") };
}

function computeLora() {
  show("lora-error", "");
  let x, l;
  try {
    x = loraInputs();
    l = lora_size(x.shape, x.rank, x.targets, x.settings, x.gpu);
  } catch (e) { return fail("lora-error", e); }
  show("lora-trainable", pyrt.format(l.trainable_params, ","), l.trainable_params);
  show("lora-percent", pyrt.format(l.trainable_percent, ".3f") + "%", l.trainable_percent);
  show("lora-adapter", pyrt.format(l.adapter_bytes / 1048576, ",.1f") + " MiB", l.adapter_bytes);
  for (const m of ["lora", "qlora", "full"]) show("lora-mem-" + m, pyrt.format(l.memory_gb[m], ",.2f"), l.memory_gb[m]);
  if (l.fit) {
    const f = l.fit;
    show("lora-fit", "On " + pyrt.format(f.gpu_memory_gib, "g") + " GiB per GPU: longest sequence at this batch " +
      `LoRA ${pyrt.format(f.max_seq_len.lora, ",")}, QLoRA ${pyrt.format(f.max_seq_len.qlora, ",")}, full ` +
      `${pyrt.format(f.max_seq_len.full, ",")}; largest batch at this length LoRA ${f.max_batch_size.lora}, QLoRA ` +
      `${f.max_batch_size.qlora}, full ${f.max_batch_size.full}.`, f);
  } else show("lora-fit", "", null);
  table("lora-table", ["module", "d_in", "d_out", "full params", "LoRA params", "reduction"], l.per_matrix.map((m) =>
    [m.module, pyrt.format(m.d_in, ","), pyrt.format(m.d_out, ","), pyrt.format(m.full_params, ","),
      pyrt.format(m.lora_params, ","), pyrt.format(m.reduction, ",.1f") + "x"]));
  const methods = ["full", "lora", "qlora"], parts = ["weights", "adapter_and_optimizer", "activations", "logits"];
  plot("lora-chart", parts.map((p) => ({ type: "bar", name: p.replaceAll("_", " "), x: methods,
    y: methods.map((m) => l.breakdown[m][p]) })), { barmode: "stack", title: { text: "Memory per GPU (GiB)",
    font: { size: 14 } }, shapes: x.gpu ? [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: x.gpu, y1: x.gpu,
    line: { color: "#b3261e", dash: "dot" } }] : [], legend: { orientation: "h", y: -0.2 } });
}

// ----- decision
function decisionAnswers() {
  const can = { yes: true, no: false, unknown: null }[$("dec-can-create").value];
  let option = null, prompt = null;
  if ($("dec-use-option").checked && lastOption !== null) {
    const { inp, r, ft } = lastOption;
    option = new FineTuneOption({ kind: ft.self_hosted ? "local" : "hosted", model: ft.id,
      setup_usd: inp.train_cost + inp.data_cost, per_request_usd: inp.ft_cost, monthly_usd: inp.monthly_cost,
      priced: true, break_even_days: r.break_even_days, lifetime_days: r.lifetime_days,
      can_create_job: ft.self_hosted ? true : can,
      availability: can === true || ft.self_hosted ? [] : ["as answered in the decision tool"] });
    prompt = inp.prompt_cost;
  }
  return new Answers({ task_type: $("dec-task").value, facts_change: $("dec-facts").value,
    behaviour_changes: $("dec-behaviour").value, labelled_examples: num("dec-examples") ?? 0,
    prompt_compliance: num("dec-compliance"), required_compliance: num("dec-required") ?? 0.95,
    requests_per_day: num("be-rpd") || null, setup_budget: num("dec-budget"), latency_ms: num("dec-latency"),
    data_may_leave: $("dec-data-may-leave").checked,
    hosted: option && option.kind === "hosted" ? option : null, local: option && option.kind === "local" ? option : null,
    prompt_per_request_usd: prompt });
}

function computeDecision() {
  show("dec-error", "");
  let rec;
  try { rec = advise(decisionAnswers()); } catch (e) { return fail("dec-error", e); }
  show("dec-choice", rec.choice + (rec.model ? " (" + rec.model + ")" : ""), rec.choice);
  list("dec-reasons", rec.reasons);
  list("dec-risks", rec.risks);
}

// ----- examples
function computeExamples() {
  const n = num("ex-n") ?? 0;
  const a = new Answers({ task_type: $("ex-task").value, labelled_examples: n });
  const [low, high] = pyrt.getitem(EXAMPLES_NEEDED, a.task_type);
  show("ex-range", pyrt.format(low, ",") + (high === null ? "+" : "-" + pyrt.format(high, ",")), [low, high]);
  const epochs = default_epochs(n);
  show("ex-epochs", String(epochs), epochs);
  show("ex-trained", pyrt.format(n * epochs, ","), n * epochs);
  show("ex-reason", rule_examples(a).reason);
}

// ----- wiring
function setup() {
  const ids = Object.keys(DATA.models);
  options("be-base", ids.filter((k) => DATA.models[k].prompted).map((k) => [k, k]));
  options("be-ft", ids.filter((k) => DATA.models[k].fine_tunable).map((k) => [k, k]));
  options("lora-model", [...Object.keys(DATA.shapes).map((k) => [k, k]), ["custom", "custom (edit the shape)"]]);
  options("dec-task", DATA.task_types.map((t) => [t, t]));
  options("ex-task", DATA.task_types.map((t) => [t, t]));
  options("dec-facts", DATA.changes.map((c) => [c, c]));
  options("dec-behaviour", DATA.changes.map((c) => [c, c]));
  $("lora-targets").replaceChildren(...TARGETS.map((t) => {
    const l = document.createElement("label");
    l.innerHTML = `<input type="checkbox" id="lora-t-${t}" checked> ${t}`;
    return l;
  }));
  const p = DATA.prefill;
  const pick = (id, value, fallback) => { $(id).value = value && DATA.models[value] ? value : fallback; };
  pick("be-base", p.base_model, "gpt-4o-2024-08-06" in DATA.models ? "gpt-4o-2024-08-06" : $("be-base").value);
  pick("be-ft", p.ft_model, "gpt-4.1-mini-2025-04-14" in DATA.models ? "gpt-4.1-mini-2025-04-14" : $("be-ft").value);
  $("lora-model").value = "llama-3.1-8b" in DATA.shapes ? "llama-3.1-8b" : Object.keys(DATA.shapes)[0];
  fillPrices();
  fillShape();
  const set = (id, v) => { if (v !== null && v !== undefined) $(id).value = v; };
  set("be-train-cost", p.train_cost); set("be-examples", p.examples); set("be-prompt-tokens", p.prompt_tokens);
  set("be-input-tokens", p.input_tokens); set("be-output-tokens", p.output_tokens); set("be-rpd", p.requests_per_day);
  set("dec-examples", p.examples); set("ex-n", p.examples);
  if (p.lora_rank) { set("lora-rank", p.lora_rank); set("lora-rank-slider", Math.min(256, p.lora_rank)); }
  $("source").textContent = `Prices and shutdown dates as of ${DATA.as_of}; started from ${p.source}.`;

  const on = (sel, fn) => document.querySelectorAll(sel).forEach((el) => {
    el.addEventListener("input", fn); el.addEventListener("change", fn);
  });
  $("be-base").addEventListener("change", () => { fillPrices(); computeBreakeven(); });
  $("be-ft").addEventListener("change", () => { fillPrices(); computeBreakeven(); });
  $("lora-model").addEventListener("change", () => { fillShape(); computeLora(); });
  $("lora-rank-slider").addEventListener("input", () => { $("lora-rank").value = $("lora-rank-slider").value; });
  on("#breakeven input, #breakeven select:not(#be-base):not(#be-ft)", computeBreakeven);
  on("#lora input, #lora select:not(#lora-model)", computeLora);
  on("#decision input, #decision select", computeDecision);
  on("#examples input, #examples select", computeExamples);
  computeBreakeven(); computeLora(); computeExamples();
}
window.ftcalc = { computeBreakeven, computeLora, computeDecision, computeExamples, fillPrices, fillShape };
setup();
