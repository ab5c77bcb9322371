// Switchboard's visual flow designer (/console/designer?flow=<id or name>).
//
// The flow's content (Amazon Connect's flow language) is the source of
// truth; Drawflow (window.Drawflow, vendored) only draws it. Every action is
// a node with one output per branch (NextAction "Success", each condition,
// each error). Node markup handed to Drawflow is fixed; flow data is filled
// in afterwards with textContent, never parsed as HTML.

import {
  $,
  STAFF_TOKEN_KEY,
  Session,
  el,
  showSignIn,
  wireSignIn,
} from "/shared/session.js";

const session = new Session(STAFF_TOKEN_KEY, (message) => signedOut(message));
const token = () => session.token();
const api = (path, options) => session.api(path, options);
const VERSION = "2019-10-30";

const OPERATORS = ["Equals", "TextStartsWith", "TextEndsWith", "TextContains", "NumberGreaterThan",
  "NumberGreaterOrEqualTo", "NumberLessThan", "NumberLessOrEqualTo"];
const OP_SIGN = { Equals: "=", NumberGreaterThan: ">", NumberGreaterOrEqualTo: "≥", NumberLessThan: "<",
  NumberLessOrEqualTo: "≤", TextStartsWith: "starts", TextEndsWith: "ends", TextContains: "contains" };

/** Supported action types: default parameters, errors offered, common fields. */
const TYPES = {
  MessageParticipant: { params: { Text: "Hello" }, errors: ["NoMatchingError"], fields: ["Text", "PromptId", "SSML"] },
  GetParticipantInput: { params: { Text: "Press 1", StoreInput: "False", InputTimeLimitSeconds: "5" },
    errors: ["InputTimeLimitExceeded", "NoMatchingCondition", "InvalidPhoneNumber", "NoMatchingError"],
    fields: ["Text", "InputTimeLimitSeconds", "StoreInput"], conditions: true },
  MessageParticipantIteratively: { params: { Messages: [{ Text: "Please wait" }], InterruptFrequencySeconds: "60" },
    errors: ["MessagesInterrupted", "NoMatchingError"], fields: ["InterruptFrequencySeconds"] },
  ConnectParticipantWithLexBot: { params: { Text: "How can I help?" },
    errors: ["NoMatchingCondition", "InputTimeLimitExceeded", "NoMatchingError"], fields: ["Text"], conditions: true },
  UpdateContactTextToSpeechVoice: { params: { TextToSpeechVoice: "Joanna" }, errors: [], fields: ["TextToSpeechVoice"], next: true },
  UpdateContactAttributes: { params: { Attributes: {} }, errors: ["NoMatchingError"], fields: [] },
  Compare: { params: { ComparisonValue: "$.Attributes.x" }, errors: ["NoMatchingCondition", "NoMatchingError"], fields: ["ComparisonValue"], conditions: true },
  CheckHoursOfOperation: { params: {}, errors: ["NoMatchingError"], fields: ["HoursOfOperationId"], conditions: true },
  CheckMetricData: { params: { MetricType: "NumberOfAgentsAvailable" }, errors: ["NoMatchingCondition", "NoMatchingError"], fields: ["MetricType", "QueueId"], conditions: true },
  DistributeByPercentage: { params: {}, errors: ["NoMatchingCondition", "NoMatchingError"], fields: [], conditions: true },
  Loop: { params: { LoopCount: "3" }, errors: [], fields: ["LoopCount"], conditions: true },
  Wait: { params: { TimeoutSeconds: "60" }, errors: ["NoMatchingError"], fields: ["TimeoutSeconds"], conditions: true },
  UpdateContactTargetQueue: { params: { QueueId: "" }, errors: ["NoMatchingError"], fields: ["QueueId", "AgentId"] },
  TransferContactToQueue: { params: {}, errors: ["QueueAtCapacity", "NoMatchingError"], fields: [] },
  TransferToFlow: { params: { ContactFlowId: "" }, errors: ["NoMatchingError"], fields: ["ContactFlowId"] },
  TransferParticipantToThirdParty: { params: { ThirdPartyPhoneNumber: "+15555550100", ThirdPartyConnectionTimeLimitSeconds: "30", ContinueFlowExecution: "False" },
    errors: ["ConnectionTimeLimitExceeded", "CallFailed", "NoMatchingError"], fields: ["ThirdPartyPhoneNumber", "ThirdPartyConnectionTimeLimitSeconds", "ContinueFlowExecution"] },
  UpdateContactRecordingBehavior: { params: { RecordingBehavior: { RecordedParticipants: ["Agent", "Customer"] } }, errors: [], fields: [], next: true },
  UpdateContactEventHooks: { params: { EventHooks: { CustomerQueue: "" } }, errors: [], fields: [], next: true },
  UpdateContactRoutingBehavior: { params: { QueuePriority: "1" }, errors: [], fields: ["QueuePriority", "QueueTimeAdjustmentSeconds"], next: true },
  InvokeLambdaFunction: { params: { LambdaFunctionARN: "", InvocationTimeLimitSeconds: "3" }, errors: ["NoMatchingError"], fields: ["LambdaFunctionARN", "InvocationTimeLimitSeconds"] },
  UpdateFlowAttributes: { params: { FlowAttributes: {} }, errors: ["NoMatchingError"], fields: [] },
  UpdateFlowLoggingBehavior: { params: { FlowLoggingBehavior: "Enabled" }, errors: [], fields: ["FlowLoggingBehavior"], next: true },
  InvokeFlowModule: { params: { FlowModuleId: "" }, errors: ["NoMatchingError"], fields: ["FlowModuleId"] },
  EndFlowModuleExecution: { params: {}, errors: [], fields: [], terminal: true },
  DisconnectParticipant: { params: {}, errors: [], fields: [], terminal: true },
  EndFlowExecution: { params: {}, errors: [], fields: [], terminal: true },
};
const NEXT_TYPES = new Set(["MessageParticipant", "UpdateContactTextToSpeechVoice", "UpdateContactAttributes",
  "UpdateContactTargetQueue", "UpdateContactRecordingBehavior", "UpdateContactEventHooks", "UpdateContactRoutingBehavior",
  "InvokeLambdaFunction", "UpdateFlowAttributes", "UpdateFlowLoggingBehavior", "InvokeFlowModule"]);
const FORBIDDEN_ID = /[%:(\\/)=$,;[\]{}]/;
/** Parameters shown in node summaries, first present wins. */
const SUMMARY_KEYS = ["Text", "SSML", "PromptId", "QueueId", "ComparisonValue", "ContactFlowId", "FlowModuleId",
  "ThirdPartyPhoneNumber", "LoopCount", "TimeoutSeconds", "MetricType", "TextToSpeechVoice", "LambdaFunctionARN"];

const state = {
  me: null,
  flow: null,        // the flow record (id, name, type...)
  content: null,     // the flow language object being edited
  editor: null,
  nodeOf: new Map(), // action Identifier -> Drawflow node id
  actionOf: new Map(), // Drawflow node id -> action Identifier
  selected: null,    // Identifier
  quiet: 0,          // > 0 while the designer itself changes the drawing
  dirty: false,
  lastRun: null,
};
window.designer = state; // for the browser tests

// ---------- helpers ----------

const clone = (v) => JSON.parse(JSON.stringify(v));

/** Shows an API failure (with each field error) in the banner. */
function showApiError(what, e) {
  if (e.status === 401) return;
  const errors = e.body?.errors || [];
  const detail = errors.length ? errors.map((f) => `${f.field}: ${f.reason}`).join("; ") : e.message;
  $("api-error").textContent = `${what} failed${e.status ? ` (${e.status})` : ""}: ${detail}`;
}

function clearBanners() {
  $("api-error").textContent = "";
  $("notice").textContent = "";
}

const notice = (text) => { $("notice").textContent = text; };

function setDirty(dirty) {
  state.dirty = dirty;
  $("dirty").hidden = !dirty;
}

// ---------- sign in ----------

async function signOut() {
  const ended = session.signOut();
  signedOut("");
  await ended;
}

function signedOut(message) {
  session.forget();
  state.me = null;
  showSignIn(message);
}

async function start() {
  if (!token()) return signedOut("");
  try {
    state.me = await api("/me");
  } catch (e) {
    if (e.status !== 401) signedOut(e.message);
    return;
  }
  const user = state.me.user || {};
  $("user-name").textContent = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || "";
  $("login").hidden = true;
  $("workspace").hidden = false;
  applyPermissions();
  const wanted = new URLSearchParams(location.search).get("flow");
  if (wanted) await openFlow(wanted);
  else await showPicker();
}

/** Buttons follow the API's guards: what the user may not do is not offered. */
function applyPermissions() {
  const can = (p) => state.me?.permissions?.includes(p);
  $("save").hidden = !can("ContactFlows.Edit");
  $("import-open").hidden = !can("ContactFlows.Edit");
  $("publish").hidden = !can("ContactFlows.Publish");
  const create = $("new-flow-form");
  if (create) create.hidden = !can("ContactFlows.Create");
}

// ---------- picker ----------

async function showPicker() {
  $("designer").hidden = true;
  $("picker").hidden = false;
  $("flow-name").textContent = "";
  $("flow-type").textContent = "";
  const list = $("flow-list");
  list.replaceChildren();
  try {
    const flows = await api("/flows");
    for (const f of flows.items || []) {
      const link = el("a", { href: `/console/designer?flow=${encodeURIComponent(f.id)}`, text: f.name });
      list.append(el("li", {}, link, " ", el("span", { class: "muted small", text: f.type })));
    }
    if (!list.children.length) list.append(el("li", { class: "muted", text: "No flows yet." }));
  } catch (e) {
    showApiError("Listing flows", e);
  }
}

async function createFlow(event) {
  event.preventDefault();
  const form = $("new-flow-form");
  const err = form.querySelector(".form-error");
  err.textContent = "";
  const name = $("new-flow-name").value.trim();
  if (!name) { err.textContent = "Name the flow."; return; }
  try {
    const flow = await api("/flows", { method: "POST", body: {
      name, type: $("new-flow-type").value,
      content: { Version: VERSION, StartAction: "", Metadata: { ActionMetadata: {} }, Actions: [] },
    } });
    history.pushState(null, "", `/console/designer?flow=${encodeURIComponent(flow.id)}`);
    await openFlow(flow.id);
  } catch (e) {
    if (e.status === 401) return;
    const errors = e.body?.errors || [];
    err.textContent = errors.length ? errors.map((f) => `${f.field}: ${f.reason}`).join("; ") : e.message;
  }
}

// ---------- loading ----------

async function openFlow(idOrName) {
  clearBanners();
  let flow;
  try {
    flow = await api(`/flows/${encodeURIComponent(idOrName)}`);
  } catch (e) {
    showApiError(`Opening flow '${idOrName}'`, e);
    await showPicker();
    return;
  }
  $("picker").hidden = true;
  $("designer").hidden = false;
  load(flow);
}

/** Takes a flow record: its content becomes the drawing. */
function load(flow) {
  state.flow = flow;
  $("flow-name").textContent = flow.name;
  $("flow-type").textContent = flow.type;
  const content = clone(flow.content || {});
  content.Version ||= VERSION;
  content.StartAction ??= "";
  content.Actions ||= [];
  content.Metadata ||= {};
  content.Metadata.ActionMetadata ||= {};
  // Branches saved unconnected come back as branches without a target.
  for (const a of content.Actions) {
    a.Parameters ||= {};
    a.Transitions ||= {};
    const pending = content.Metadata.ActionMetadata[a.Identifier]?.unconnected;
    if (Array.isArray(pending)) {
      for (const b of pending) {
        if (b.Condition) (a.Transitions.Conditions ||= []).push({ NextAction: null, Condition: b.Condition });
        else if (b.ErrorType) (a.Transitions.Errors ||= []).push({ NextAction: null, ErrorType: b.ErrorType });
      }
      delete content.Metadata.ActionMetadata[a.Identifier].unconnected;
    }
  }
  state.content = content;
  state.selected = null;
  clearRun();
  $("problems").replaceChildren();
  $("problem-summary").textContent = "";
  layoutMissing();
  render();
  showPanel();
  setDirty(false);
}

/** The content as saved: branches without a target are kept in Metadata. */
function serialize() {
  const c = clone(state.content);
  for (const a of c.Actions) {
    const t = a.Transitions || {};
    const pending = [];
    if (t.Conditions) {
      t.Conditions = t.Conditions.filter((x) => x.NextAction || (pending.push({ Condition: x.Condition }), false));
      if (!t.Conditions.length) delete t.Conditions;
    }
    if (t.Errors) {
      t.Errors = t.Errors.filter((x) => x.NextAction || (pending.push({ ErrorType: x.ErrorType }), false));
      if (!t.Errors.length) delete t.Errors;
    }
    if (!t.NextAction) delete t.NextAction;
    a.Transitions = t;
    const meta = (c.Metadata.ActionMetadata[a.Identifier] ||= {});
    if (pending.length) meta.unconnected = pending;
  }
  return c;
}

const actionById = (id) => state.content.Actions.find((a) => a.Identifier === id);
const positionOf = (id) => state.content.Metadata.ActionMetadata[id]?.position;

/** Lays out actions without a saved position: BFS layers from StartAction. */
function layoutMissing() {
  const actions = state.content.Actions;
  if (actions.every((a) => positionOf(a.Identifier))) return;
  const layer = new Map();
  const queue = [];
  if (actionById(state.content.StartAction)) {
    layer.set(state.content.StartAction, 0);
    queue.push(state.content.StartAction);
  }
  while (queue.length) {
    const id = queue.shift();
    for (const b of branches(actionById(id))) {
      if (b.target && actionById(b.target) && !layer.has(b.target)) {
        layer.set(b.target, layer.get(id) + 1);
        queue.push(b.target);
      }
    }
  }
  const deepest = Math.max(-1, ...layer.values());
  const rows = new Map();
  for (const a of actions) {
    if (positionOf(a.Identifier)) continue;
    const l = layer.has(a.Identifier) ? layer.get(a.Identifier) : deepest + 1;
    const row = rows.get(l) || 0;
    rows.set(l, row + 1);
    setPosition(a.Identifier, 60 + l * 300, 40 + row * 190);
  }
}

function setPosition(id, x, y) {
  const meta = (state.content.Metadata.ActionMetadata[id] ||= {});
  meta.position = { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
}

// ---------- branches ----------

/** The action's outputs in order: [{kind, index, label, target}]. */
function branches(a) {
  if (!a) return [];
  const t = a.Transitions || {};
  const out = [];
  const storeInput = String(a.Parameters?.StoreInput).toLowerCase() === "true";
  if (t.NextAction || NEXT_TYPES.has(a.Type) || TYPES[a.Type]?.next
      || (a.Type === "GetParticipantInput" && storeInput)
      || (a.Type === "TransferParticipantToThirdParty" && String(a.Parameters?.ContinueFlowExecution).toLowerCase() === "true")) {
    out.push({ kind: "next", label: "Success", target: t.NextAction || null });
  }
  (t.Conditions || []).forEach((c, i) => {
    const op = c.Condition?.Operator || "Equals";
    const operand = (c.Condition?.Operands || [])[0] ?? "";
    out.push({ kind: "condition", index: i, label: `${OP_SIGN[op] || op} ${operand}`, target: c.NextAction || null });
  });
  (t.Errors || []).forEach((e, i) => out.push({ kind: "error", index: i, label: e.ErrorType || "?", target: e.NextAction || null }));
  return out;
}

function setTarget(a, b, target) {
  const t = (a.Transitions ||= {});
  if (b.kind === "next") {
    if (target) t.NextAction = target;
    else delete t.NextAction;
  } else if (b.kind === "condition") t.Conditions[b.index].NextAction = target;
  else t.Errors[b.index].NextAction = target;
}

// ---------- drawing ----------

const NODE_HTML = '<div class="node-head"><span class="node-type"></span><span class="node-start">start</span></div><div class="node-id"></div><div class="node-summary"></div>';

function quietly(f) {
  state.quiet += 1;
  try { return f(); } finally { state.quiet -= 1; }
}

function summary(a) {
  for (const k of SUMMARY_KEYS) {
    const v = a.Parameters?.[k];
    if (typeof v === "string" && v) return `${k}: ${v}`;
  }
  return "";
}

function render() {
  const editor = state.editor;
  quietly(() => {
    editor.clear();
    state.nodeOf.clear();
    state.actionOf.clear();
    for (const a of state.content.Actions) {
      const pos = positionOf(a.Identifier) || { x: 40, y: 40 };
      const outs = branches(a).length;
      const terminal = TYPES[a.Type]?.terminal;
      const id = editor.addNode(a.Type, 1, outs, pos.x, pos.y, `action${terminal ? " terminal" : ""}`, {}, NODE_HTML);
      state.nodeOf.set(a.Identifier, id);
      state.actionOf.set(id, a.Identifier);
      decorate(a);
    }
    for (const a of state.content.Actions) {
      branches(a).forEach((b, i) => {
        const to = state.nodeOf.get(b.target);
        if (to !== undefined) editor.addConnection(state.nodeOf.get(a.Identifier), to, `output_${i + 1}`, "input_1");
      });
    }
  });
  highlightSelection();
  applyRun();
}

/** Fills a node's text (textContent only) and labels its outputs. */
function decorate(a) {
  const node = nodeElement(a.Identifier);
  if (!node) return;
  node.dataset.action = a.Identifier;
  node.dataset.type = a.Type;
  node.classList.toggle("start", state.content.StartAction === a.Identifier);
  node.querySelector(".node-type").textContent = a.Type;
  node.querySelector(".node-id").textContent = a.Identifier;
  node.querySelector(".node-summary").textContent = summary(a);
  branches(a).forEach((b, i) => {
    const out = node.querySelector(`.outputs .output_${i + 1}`);
    if (!out) return;
    out.dataset.label = b.label;
    out.dataset.branch = b.kind === "next" ? "next" : `${b.kind}-${b.index}`;
    out.title = b.label;
  });
}

const nodeElement = (id) => {
  const n = state.nodeOf.get(id);
  return n === undefined ? null : document.getElementById(`node-${n}`);
};

function highlightSelection() {
  for (const n of document.querySelectorAll(".drawflow-node.picked")) n.classList.remove("picked");
  if (state.selected) nodeElement(state.selected)?.classList.add("picked");
  $("set-start").disabled = !state.selected;
}

// ---------- Drawflow events ----------

function setUpEditor() {
  const editor = new window.Drawflow($("canvas"));
  editor.reroute = false;
  editor.start();
  state.editor = editor;

  editor.on("nodeSelected", (id) => { if (!state.quiet) select(state.actionOf.get(Number(id))); });
  editor.on("nodeMoved", (id) => {
    const node = editor.getNodeFromId(id);
    const action = state.actionOf.get(Number(id));
    if (!node || !action) return;
    setPosition(action, node.pos_x, node.pos_y);
    setDirty(true);
  });
  editor.on("connectionCreated", (c) => {
    if (state.quiet) return;
    const from = state.actionOf.get(Number(c.output_id));
    const to = state.actionOf.get(Number(c.input_id));
    const a = actionById(from);
    const k = Number(String(c.output_class).replace("output_", "")) - 1;
    const b = branches(a)[k];
    if (!a || !b || !to) return;
    // A branch leads to one action: the new connection replaces the old.
    const old = state.nodeOf.get(b.target);
    if (old !== undefined && b.target !== to) {
      quietly(() => editor.removeSingleConnection(c.output_id, old, c.output_class, "input_1"));
    }
    setTarget(a, b, to);
    setDirty(true);
    if (state.selected === from) showPanel();
  });
  editor.on("connectionRemoved", (c) => {
    if (state.quiet) return;
    const a = actionById(state.actionOf.get(Number(c.output_id)));
    const k = Number(String(c.output_class).replace("output_", "")) - 1;
    const b = branches(a)[k];
    if (!a || !b) return;
    if (b.target === state.actionOf.get(Number(c.input_id))) setTarget(a, b, null);
    setDirty(true);
  });
  editor.on("nodeRemoved", (id) => {
    if (state.quiet) return;
    const gone = state.actionOf.get(Number(id));
    state.actionOf.delete(Number(id));
    state.nodeOf.delete(gone);
    removeAction(gone);
  });
}

function removeAction(id) {
  const c = state.content;
  c.Actions = c.Actions.filter((a) => a.Identifier !== id);
  for (const a of c.Actions) {
    branches(a).forEach((b) => { if (b.target === id) setTarget(a, b, null); });
  }
  delete c.Metadata.ActionMetadata[id];
  if (c.StartAction === id) c.StartAction = "";
  if (state.selected === id) state.selected = null;
  setDirty(true);
  render();
  showPanel();
}

// ---------- palette ----------

function buildPalette() {
  const box = $("palette");
  for (const type of Object.keys(TYPES)) {
    box.append(el("button", { type: "button", class: "palette-item", "data-type": type, text: type }));
  }
  box.addEventListener("click", (e) => {
    const type = e.target.closest("button")?.dataset.type;
    if (type) addAction(type);
  });
}

function freshId(type) {
  const base = type.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
  let n = 1;
  while (actionById(`${base}-${n}`)) n += 1;
  return `${base}-${n}`;
}

function addAction(type) {
  const spec = TYPES[type];
  const id = freshId(type);
  const a = { Identifier: id, Type: type, Parameters: clone(spec.params), Transitions: {} };
  if (spec.errors.length) a.Transitions.Errors = [{ ErrorType: spec.errors[spec.errors.length === 1 ? 0 : spec.errors.length - 1], NextAction: null }];
  state.content.Actions.push(a);
  // Beside the others, in view.
  const n = state.content.Actions.length - 1;
  const e = state.editor;
  const x = (-e.canvas_x + 40) / e.zoom + (n % 3) * 300;
  const y = (-e.canvas_y + 40) / e.zoom + Math.floor(n / 3) * 200;
  setPosition(id, x, y);
  if (!state.content.StartAction) state.content.StartAction = id;
  setDirty(true);
  render();
  select(id);
}

// ---------- the side panel ----------

function select(id) {
  state.selected = id && actionById(id) ? id : null;
  highlightSelection();
  showPanel();
}

function showPanel() {
  const a = state.selected && actionById(state.selected);
  $("panel-empty").hidden = !!a;
  $("action-form").hidden = !a;
  $("set-start").disabled = !a;
  if (!a) return;
  const form = $("action-form");
  for (const s of form.querySelectorAll(".error")) s.textContent = "";
  $("action-type").textContent = a.Type;
  $("action-start").hidden = state.content.StartAction !== a.Identifier;
  $("action-id").value = a.Identifier;
  const fields = TYPES[a.Type]?.fields || [];
  const common = $("common-fields");
  common.replaceChildren();
  for (const f of fields) {
    const v = a.Parameters?.[f];
    const input = el("input", { "data-param": f, value: typeof v === "string" || typeof v === "number" ? String(v) : "" });
    if (v !== undefined && typeof v !== "string" && typeof v !== "number") input.value = JSON.stringify(v);
    common.append(el("label", {}, f, input));
  }
  const rest = Object.fromEntries(Object.entries(a.Parameters || {}).filter(([k]) => !fields.includes(k)));
  $("action-params").value = JSON.stringify(rest, null, 2);
  const t = a.Transitions || {};
  $("conditions-box").hidden = !TYPES[a.Type]?.conditions && !(t.Conditions || []).length;
  $("conditions").replaceChildren(...(t.Conditions || []).map((c) => conditionRow(c.Condition?.Operator, (c.Condition?.Operands || [])[0], c.NextAction)));
  $("errors").replaceChildren(...(t.Errors || []).map((e) => errorRow(e.ErrorType, e.NextAction)));
  $("error-types").replaceChildren(...(TYPES[a.Type]?.errors || []).map((x) => el("option", { value: x })));
}

function targetNote(target) {
  return el("span", { class: "muted small target", text: target ? `→ ${target}` : "→ (not connected)" });
}

function conditionRow(operator = "Equals", operand = "", target = null) {
  const select = el("select", { class: "cond-op" }, ...OPERATORS.map((o) => el("option", { value: o, text: o })));
  select.value = operator || "Equals";
  const row = el("div", { class: "branch-row condition" }, select,
    el("input", { class: "cond-operand", value: operand ?? "", placeholder: "value", size: "8" }),
    targetNote(target), el("button", { type: "button", class: "remove ghost", text: "✕", title: "Remove" }));
  row.dataset.target = target || "";
  return row;
}

function errorRow(type = "", target = null) {
  const row = el("div", { class: "branch-row error-branch" },
    el("input", { class: "err-type", value: type, list: "error-types", placeholder: "ErrorType", size: "18" }),
    targetNote(target), el("button", { type: "button", class: "remove ghost", text: "✕", title: "Remove" }));
  row.dataset.target = target || "";
  return row;
}

function applyPanel(event) {
  event.preventDefault();
  const a = actionById(state.selected);
  if (!a) return;
  const form = $("action-form");
  for (const s of form.querySelectorAll(".error")) s.textContent = "";
  const problem = (field, text) => { form.querySelector(`[data-field="${field}"]`).textContent = text; return false; };

  const id = $("action-id").value.trim();
  if (!id) return problem("Identifier", "required");
  if (id.length > 50) return problem("Identifier", "at most 50 characters");
  if (FORBIDDEN_ID.test(id)) return problem("Identifier", "none of % : ( \\ / ) = $ , ; [ ] { }");
  if (id !== a.Identifier && actionById(id)) return problem("Identifier", "another action has this Identifier");

  let params;
  try {
    params = JSON.parse($("action-params").value || "{}");
    if (!params || typeof params !== "object" || Array.isArray(params)) throw new Error("must be a JSON object");
  } catch (e) {
    return problem("Parameters", `not a JSON object: ${e.message}`);
  }
  for (const input of $("common-fields").querySelectorAll("input[data-param]")) {
    const v = input.value.trim();
    if (!v) continue;
    const wasObject = a.Parameters?.[input.dataset.param] !== undefined && typeof a.Parameters[input.dataset.param] === "object";
    if (wasObject) {
      try { params[input.dataset.param] = JSON.parse(v); } catch { return problem("Parameters", `${input.dataset.param}: not JSON`); }
    } else params[input.dataset.param] = v;
  }
  const conditions = [];
  for (const row of $("conditions").querySelectorAll(".condition")) {
    const operand = row.querySelector(".cond-operand").value.trim();
    if (!operand) return problem("*", "each condition needs a value");
    conditions.push({ NextAction: row.dataset.target || null, Condition: { Operator: row.querySelector(".cond-op").value, Operands: [operand] } });
  }
  const errors = [];
  for (const row of $("errors").querySelectorAll(".error-branch")) {
    const type = row.querySelector(".err-type").value.trim();
    if (!type) return problem("*", "each error needs an ErrorType");
    if (errors.some((e) => e.ErrorType === type)) return problem("*", `error '${type}' is listed twice`);
    errors.push({ ErrorType: type, NextAction: row.dataset.target || null });
  }

  a.Parameters = params;
  const t = (a.Transitions ||= {});
  if (conditions.length) t.Conditions = conditions; else delete t.Conditions;
  if (errors.length) t.Errors = errors; else delete t.Errors;
  if (id !== a.Identifier) renameAction(a.Identifier, id);
  setDirty(true);
  render();
  select(id);
  notice(`Applied changes to ${id}.`);
  return true;
}

function renameAction(from, to) {
  const c = state.content;
  for (const x of c.Actions) {
    if (x.Identifier === from) x.Identifier = to;
    const t = x.Transitions || {};
    if (t.NextAction === from) t.NextAction = to;
    for (const b of [...(t.Conditions || []), ...(t.Errors || [])]) if (b.NextAction === from) b.NextAction = to;
  }
  if (c.StartAction === from) c.StartAction = to;
  if (c.Metadata.ActionMetadata[from]) {
    c.Metadata.ActionMetadata[to] = c.Metadata.ActionMetadata[from];
    delete c.Metadata.ActionMetadata[from];
  }
  state.selected = to;
}

// ---------- toolbar ----------

async function save() {
  clearBanners();
  const f = state.flow;
  try {
    const saved = await api(`/flows/${encodeURIComponent(f.id)}`, { method: "PUT",
      body: { name: f.name, description: f.description || "", type: f.type, content: serialize() } });
    state.flow = saved;
    setDirty(false);
    notice(`Draft saved (${new Date().toLocaleTimeString()}).`);
    return true;
  } catch (e) {
    showApiError("Saving the draft", e);
    return false;
  }
}

/** Problems: from validation ({severity, path, action, message}) or a 400's field errors. */
function showProblems(problems, summaryText) {
  const list = $("problems");
  list.replaceChildren();
  $("problem-summary").textContent = summaryText;
  for (const p of problems) {
    const item = el("li", { class: `problem ${p.severity || "error"}` },
      el("span", { class: "severity", text: p.severity || "error" }), " ",
      el("span", { class: "where mono", text: p.action ? `${p.action} · ${p.path}` : p.path }), " ",
      el("span", { class: "message", text: p.message }));
    if (p.action) {
      item.dataset.action = p.action;
      item.tabIndex = 0;
      item.classList.add("clickable");
    }
    list.append(item);
  }
}

function problemsFromErrors(errors) {
  return errors.map((f) => {
    const path = String(f.field || "").replace(/^content\./, "");
    const m = /^Actions\[(\d+)\]/.exec(path);
    // The index is into the saved content: the same order as the drawing.
    const action = m ? state.content.Actions[Number(m[1])]?.Identifier : undefined;
    return { severity: "error", path, action, message: f.reason };
  });
}

async function validate() {
  if (state.dirty && !(await save())) return;
  try {
    const report = await api(`/flows/${encodeURIComponent(state.flow.id)}/validate`, { method: "POST" });
    const errors = report.problems.filter((p) => p.severity === "error").length;
    showProblems(report.problems, report.valid ? `valid (${report.problems.length} warning(s))` : `${errors} error(s)`);
    $("problems").dataset.valid = String(report.valid);
    notice(report.valid ? "The flow is valid." : "The flow has problems: click one to select its action.");
  } catch (e) {
    showApiError("Validating", e);
  }
}

async function publish() {
  if (state.dirty && !(await save())) return;
  try {
    const out = await api(`/flows/${encodeURIComponent(state.flow.id)}/publish`, { method: "POST" });
    showProblems(out.warnings || [], `published version ${out.version.version}`);
    $("problems").dataset.valid = "true";
    notice(`Published version ${out.version.version}.`);
    $("notice").dataset.version = String(out.version.version);
  } catch (e) {
    if (e.status === 400 && e.body?.errors?.length) {
      showProblems(problemsFromErrors(e.body.errors), "not published");
      $("problems").dataset.valid = "false";
      $("api-error").textContent = `Not published: ${e.body.errors.length} problem(s), listed below.`;
    } else showApiError("Publishing", e);
  }
}

async function exportFlow() {
  clearBanners();
  try {
    const out = await api(`/flows/${encodeURIComponent(state.flow.id)}/export`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(out, null, 2)], { type: "application/json" }));
    const link = el("a", { href: url, download: `${state.flow.name}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    showApiError("Exporting", e);
  }
}

function setStart() {
  if (!state.selected) return;
  state.content.StartAction = state.selected;
  setDirty(true);
  render();
  showPanel();
  notice(`${state.selected} is now the start action.`);
}

async function runImport() {
  const form = $("import-form");
  const err = form.querySelector(".form-error");
  err.textContent = "";
  let text = $("import-text").value.trim();
  const file = $("import-file").files[0];
  if (file) text = await file.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    err.textContent = `Not JSON: ${e.message}`;
    return;
  }
  try {
    const report = await api("/flows/import", { method: "POST", body });
    $("import-dialog").close();
    $("import-text").value = "";
    $("import-file").value = "";
    history.pushState(null, "", `/console/designer?flow=${encodeURIComponent(report.flow.id)}`);
    load(report.flow);
    const missing = report.mappings.filter((m) => m.status === "missing");
    notice(`Imported '${report.flow.name}' (${report.action}); ${report.mappings.length} ARN(s), ${missing.length} without a local object${missing.length ? `: ${missing.map((m) => `${m.kind} ${m.name}`).join(", ")}` : ""}.`);
    const errors = report.problems.filter((p) => p.severity === "error").length;
    showProblems(report.problems, `${errors} error(s) after import`);
  } catch (e) {
    if (e.status === 401) return;
    const errors = e.body?.errors || [];
    err.textContent = errors.length ? errors.map((f) => `${f.field}: ${f.reason}`).join("; ") : e.message;
  }
}

// ---------- simulation ----------

async function simulate(event) {
  event.preventDefault();
  if (state.dirty && !(await save())) return;
  clearRun();
  const digits = $("sim-digits").value.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean);
  try {
    const run = await api(`/flows/${encodeURIComponent(state.flow.id)}/simulate`, { method: "POST",
      body: { digits, channel: $("sim-channel").value } });
    state.lastRun = run;
    applyRun();
    const list = $("sim-steps");
    list.replaceChildren(...run.path.map((s) => {
      const item = el("li", { class: "step clickable", "data-action": s.action },
        el("span", { class: "mono", text: s.action }), " ", el("span", { class: "muted", text: s.type }), " → ",
        el("span", { text: s.branch }));
      item.tabIndex = 0;
      return item;
    }));
    $("sim-outcome").textContent = outcomeText(run);
    $("sim-outcome").dataset.outcome = run.outcome?.outcome || "none";
  } catch (e) {
    if (e.status === 400 && e.body?.errors?.length) {
      showProblems(problemsFromErrors(e.body.errors), "cannot simulate");
      $("api-error").textContent = "The flow has errors: fix them to simulate.";
    } else showApiError("Simulating", e);
  }
}

function outcomeText(run) {
  const o = run.outcome;
  if (!o) return run.stopped ? `stopped: ${run.stopped}` : "still running";
  switch (o.outcome) {
    case "queued": return `queued in ${o.queue?.name || o.queue?.id || JSON.stringify(o.queue)}`;
    case "transferred_to_number": return `transferred to ${o.number}`;
    case "transferred_to_flow": return `transferred to flow ${o.flow}`;
    case "failed": return `failed${o.action ? ` at ${o.action}` : ""}: ${o.reason}`;
    default: return o.outcome.replaceAll("_", " ");
  }
}

function clearRun() {
  state.lastRun = null;
  $("sim-steps").replaceChildren();
  $("sim-outcome").textContent = "";
  for (const x of document.querySelectorAll(".on-path")) x.classList.remove("on-path");
}

/** Marks the nodes and connections the last run went through. */
function applyRun() {
  for (const x of document.querySelectorAll(".on-path")) x.classList.remove("on-path");
  const run = state.lastRun;
  if (!run) return;
  run.path.forEach((s, i) => {
    nodeElement(s.action)?.classList.add("on-path");
    const next = run.path[i + 1];
    if (!next) return;
    const from = state.nodeOf.get(s.action);
    const to = state.nodeOf.get(next.action);
    if (from === undefined || to === undefined) return;
    const a = actionById(s.action);
    const k = branches(a).findIndex((b) => b.target === next.action && branchMatches(b, s.branch));
    const k2 = k >= 0 ? k : branches(a).findIndex((b) => b.target === next.action);
    if (k2 < 0) return;
    document.querySelector(`#canvas svg.connection.node_out_node-${from}.node_in_node-${to}.output_${k2 + 1}`)?.classList.add("on-path");
  });
}

function branchMatches(b, branch) {
  if (branch === "next") return b.kind === "next";
  if (branch.startsWith("error ")) return b.kind === "error" && b.label === branch.slice(6);
  if (branch.startsWith("condition ")) return b.kind === "condition";
  return false;
}

// ---------- wiring ----------

function wire() {
  wireSignIn(session, start);
  $("logout").addEventListener("click", signOut);
  $("new-flow-form").addEventListener("submit", createFlow);
  $("save").addEventListener("click", save);
  $("validate").addEventListener("click", validate);
  $("publish").addEventListener("click", publish);
  $("export").addEventListener("click", exportFlow);
  $("set-start").addEventListener("click", setStart);
  $("import-open").addEventListener("click", () => { $("import-form").querySelector(".form-error").textContent = ""; $("import-dialog").showModal(); });
  $("import-cancel").addEventListener("click", () => $("import-dialog").close());
  $("import-run").addEventListener("click", runImport);
  $("simulate-form").addEventListener("submit", simulate);
  $("sim-clear").addEventListener("click", clearRun);
  $("action-form").addEventListener("submit", applyPanel);
  $("add-condition").addEventListener("click", () => $("conditions").append(conditionRow()));
  $("add-error").addEventListener("click", () => $("errors").append(errorRow()));
  for (const box of [$("conditions"), $("errors")]) {
    box.addEventListener("click", (e) => { if (e.target.closest(".remove")) e.target.closest(".branch-row").remove(); });
  }
  $("delete-action").addEventListener("click", () => {
    const id = state.selected;
    const n = state.nodeOf.get(id);
    if (n === undefined) return;
    quietly(() => state.editor.removeNodeId(`node-${n}`));
    removeAction(id);
  });
  const pick = (e) => {
    const item = e.target.closest("[data-action]");
    if (!item || (e.type === "keydown" && e.key !== "Enter")) return;
    if (actionById(item.dataset.action)) {
      select(item.dataset.action);
      nodeElement(item.dataset.action)?.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  };
  for (const list of [$("problems"), $("sim-steps")]) {
    list.addEventListener("click", pick);
    list.addEventListener("keydown", pick);
  }
  window.addEventListener("beforeunload", (e) => { if (state.dirty) e.preventDefault(); });
  window.addEventListener("popstate", () => start());
}

buildPalette();
setUpEditor();
wire();
start();
