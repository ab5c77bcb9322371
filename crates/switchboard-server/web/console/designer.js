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
  ConnectParticipantWithLexBot: { params: { Text: "How can I help?", LexV2Bot: { AliasArn: "" } },
    errors: ["NoMatchingCondition", "InputTimeLimitExceeded", "NoMatchingError"], fields: ["Text", "LexV2Bot.AliasArn"], conditions: true },
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
/** Connect's palette: each block's group and the name people know it by. */
const GROUPS = [
  ["Interact", "▶"],
  ["Set", "✎"],
  ["Branch", "◇"],
  ["Integrate", "⚙"],
  ["Terminate", "■"],
];
const BLOCKS = {
  MessageParticipant: ["Interact", "Play prompt"],
  GetParticipantInput: ["Interact", "Get customer input"],
  MessageParticipantIteratively: ["Interact", "Loop prompts"],
  ConnectParticipantWithLexBot: ["Interact", "Get customer input (bot)"],
  Wait: ["Interact", "Wait"],
  UpdateContactTextToSpeechVoice: ["Set", "Set voice"],
  UpdateContactAttributes: ["Set", "Set contact attributes"],
  UpdateFlowAttributes: ["Set", "Set flow attributes"],
  UpdateContactTargetQueue: ["Set", "Set working queue"],
  UpdateContactRecordingBehavior: ["Set", "Set recording behavior"],
  UpdateContactEventHooks: ["Set", "Set event flow"],
  UpdateContactRoutingBehavior: ["Set", "Set routing criteria"],
  UpdateFlowLoggingBehavior: ["Set", "Set logging behavior"],
  Compare: ["Branch", "Check contact attributes"],
  CheckHoursOfOperation: ["Branch", "Check hours of operation"],
  CheckMetricData: ["Branch", "Check queue status"],
  DistributeByPercentage: ["Branch", "Distribute by percentage"],
  Loop: ["Branch", "Loop"],
  InvokeLambdaFunction: ["Integrate", "Invoke function"],
  InvokeFlowModule: ["Integrate", "Invoke module"],
  TransferContactToQueue: ["Terminate", "Transfer to queue"],
  TransferToFlow: ["Terminate", "Transfer to flow"],
  TransferParticipantToThirdParty: ["Terminate", "Transfer to phone number"],
  DisconnectParticipant: ["Terminate", "Disconnect"],
  EndFlowExecution: ["Terminate", "End flow"],
  EndFlowModuleExecution: ["Terminate", "Return from module"],
};
const blockName = (type) => BLOCKS[type]?.[1] || type;
const blockGroup = (type) => BLOCKS[type]?.[0] || "Other";
const groupIcon = (group) => GROUPS.find(([g]) => g === group)?.[1] || "?";
/** Branches a new block must have to validate (Connect adds them too). */
const NEW_CONDITIONS = {
  CheckHoursOfOperation: [["Equals", "True"], ["Equals", "False"]],
  Loop: [["Equals", "ContinueLooping"], ["Equals", "DoneLooping"]],
  Wait: [["Equals", "WaitCompleted"]],
  DistributeByPercentage: [["NumberLessThan", "50"]],
};

/** Parameters that name an object of the instance: picked from a list. */
const PICKERS = {
  QueueId: { path: "/queues", noun: "queue" },
  HoursOfOperationId: { path: "/hours-of-operation", noun: "hours" },
  PromptId: { path: "/prompts", noun: "prompt" },
  ContactFlowId: { path: "/flows", noun: "flow" },
  FlowModuleId: { path: "/flows", noun: "module" },
  LambdaFunctionARN: { path: "/external-functions", noun: "function" },
  AgentId: { path: "/users", noun: "agent", label: (o) => o.username || o.name },
  "LexV2Bot.AliasArn": { path: "/bots", noun: "bot" },
};
/** A field named with a dot ("LexV2Bot.AliasArn") is inside an object parameter. */
const getField = (params, f) => f.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), params);
function setField(params, f, v) {
  const keys = f.split(".");
  let o = params;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== "object" || Array.isArray(o[k])) o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = v;
}
const OTHER = "__other__";
/** How an object reads in a picker: its name, or what the picker says (an agent's username). */
const pickerLabel = (picker, o) => (picker.label ? picker.label(o) : o.name);

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
  objects: {},       // picker path -> [{id, name}]
  undo: [],          // earlier contents (JSON), newest last
  redo: [],
  saved: "",         // the content as last loaded or changed (JSON)
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
  if (dirty) remember();
}

// ---------- undo and redo: snapshots of the content ----------

const HISTORY = 100;

/** After a change: the content before it goes on the undo stack. */
function remember() {
  const now = JSON.stringify(state.content);
  if (now === state.saved) return;
  state.undo.push(state.saved);
  if (state.undo.length > HISTORY) state.undo.shift();
  state.redo = [];
  state.saved = now;
  undoButtons();
}

function undoButtons() {
  $("undo").disabled = !state.undo.length;
  $("redo").disabled = !state.redo.length;
}

function travel(from, to, what) {
  if (!from.length) return;
  to.push(JSON.stringify(state.content));
  state.saved = from.pop();
  state.content = JSON.parse(state.saved);
  if (state.selected && !actionById(state.selected)) state.selected = null;
  state.dirty = true;
  $("dirty").hidden = false;
  render();
  showPanel();
  undoButtons();
  notice(what);
}

const undo = () => travel(state.undo, state.redo, "Undone.");
const redo = () => travel(state.redo, state.undo, "Redone.");

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
  await loadObjects();
  const wanted = new URLSearchParams(location.search).get("flow");
  if (wanted) await openFlow(wanted);
  else await showPicker();
}

/** The instance's queues, hours, prompts, flows, functions and agents, for the pickers and labels. */
async function loadObjects() {
  const paths = [...new Set(Object.values(PICKERS).map((p) => p.path))];
  await Promise.all(paths.map(async (path) => {
    try {
      state.objects[path] = (await api(path)).items || [];
    } catch {
      // Not permitted to list them: the field takes a typed value.
      state.objects[path] = [];
    }
  }));
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
  // Positions drawn for other block sizes (Connect's designer) overlap
  // here: lay out afresh.
  if (overlapping()) layoutAll();
  state.undo = [];
  state.redo = [];
  state.saved = JSON.stringify(state.content);
  undoButtons();
  render();
  showPanel();
  setDirty(false);
  requestAnimationFrame(fit);
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

/** Whether two blocks would be drawn over each other (or their branch labels). */
function overlapping() {
  const at = state.content.Actions.map((a) => positionOf(a.Identifier)).filter(Boolean);
  for (let i = 0; i < at.length; i += 1) {
    for (let j = i + 1; j < at.length; j += 1) {
      if (Math.abs(at[i].x - at[j].x) < 260 && Math.abs(at[i].y - at[j].y) < 110) return true;
    }
  }
  return false;
}

/** Lays every action out again: layers from StartAction, rows spaced for the drawn nodes. */
function layoutAll() {
  for (const a of state.content.Actions) {
    const meta = state.content.Metadata.ActionMetadata[a.Identifier];
    if (meta) delete meta.position;
  }
  layoutMissing();
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

const NODE_HTML = '<div class="node-head"><span class="node-icon" aria-hidden="true"></span><span class="node-type"></span><span class="node-start">start</span></div><div class="node-id"></div><div class="node-summary"></div>';
/** Identifiers Connect generates (UUIDs) say nothing to a reader. */
const GENERATED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function quietly(f) {
  state.quiet += 1;
  try { return f(); } finally { state.quiet -= 1; }
}

/** What a parameter naming an object reads as: the object's name. */
function objectName(param, value) {
  const picker = PICKERS[param];
  if (!picker || typeof value !== "string") return value;
  const found = value && (state.objects[picker.path] || []).find((o) => o.id === value || pickerLabel(picker, o) === value);
  return found ? pickerLabel(picker, found) : value;
}

const SUMMARY_LABELS = { QueueId: "Queue", PromptId: "Prompt", ContactFlowId: "Flow", FlowModuleId: "Module",
  ThirdPartyPhoneNumber: "Number", LoopCount: "Times", TimeoutSeconds: "Seconds", MetricType: "Metric",
  TextToSpeechVoice: "Voice", LambdaFunctionARN: "Function", ComparisonValue: "Compare", HoursOfOperationId: "Hours" };

/** The block's label: its own text (what it says, which queue...). */
function summary(a) {
  const p = a.Parameters || {};
  for (const k of ["Text", "SSML"]) if (typeof p[k] === "string" && p[k]) return p[k];
  for (const k of [...SUMMARY_KEYS, "HoursOfOperationId"]) {
    const v = p[k];
    if (typeof v === "string" && v) return `${SUMMARY_LABELS[k] || k}: ${objectName(k, v)}`;
  }
  const hooks = p.EventHooks && Object.entries(p.EventHooks)[0];
  if (hooks) return `${hooks[0]}: ${objectName("ContactFlowId", hooks[1])}`;
  const attrs = p.Attributes || p.FlowAttributes;
  if (attrs && typeof attrs === "object") return Object.keys(attrs).join(", ");
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
  const group = blockGroup(a.Type);
  node.dataset.group = group;
  node.querySelector(".node-icon").textContent = groupIcon(group);
  node.querySelector(".node-type").textContent = blockName(a.Type);
  node.querySelector(".node-type").title = a.Type;
  const named = !GENERATED_ID.test(a.Identifier);
  node.querySelector(".node-id").textContent = named ? a.Identifier : "";
  node.querySelector(".node-id").hidden = !named;
  const label = summary(a);
  node.querySelector(".node-summary").textContent = label;
  node.querySelector(".node-summary").title = label;
  // Reachable and usable from the keyboard: Tab to it, Enter selects,
  // arrows move it.
  node.tabIndex = 0;
  node.setAttribute("role", "button");
  // Its name is its visible text (block name, identifier, label).
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

// ---------- zoom and fit ----------

/** Zooms and pans so every action is in view (never larger than 100%). */
function fit() {
  const editor = state.editor;
  const nodes = [...document.querySelectorAll("#canvas .drawflow-node")];
  if (!editor || !nodes.length) return;
  const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const n of nodes) {
    const x = n.offsetLeft;
    const y = n.offsetTop;
    box.x0 = Math.min(box.x0, x);
    box.y0 = Math.min(box.y0, y);
    box.x1 = Math.max(box.x1, x + n.offsetWidth + 140); // room for the branch labels
    box.y1 = Math.max(box.y1, y + n.offsetHeight);
  }
  const canvas = $("canvas");
  const pad = 30;
  const zoom = Math.max(editor.zoom_min, Math.min(1,
    (canvas.clientWidth - 2 * pad) / (box.x1 - box.x0),
    (canvas.clientHeight - 2 * pad) / (box.y1 - box.y0)));
  editor.zoom = zoom;
  editor.canvas_x = pad - box.x0 * zoom;
  editor.canvas_y = pad - box.y0 * zoom;
  editor.zoom_last_value = zoom;
  editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${zoom})`;
  $("zoom-level").textContent = `${Math.round(zoom * 100)}%`;
}

function zoomBy(factor) {
  const editor = state.editor;
  const zoom = Math.max(editor.zoom_min, Math.min(editor.zoom_max, editor.zoom * factor));
  editor.zoom = zoom;
  editor.zoom_last_value = zoom;
  editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${zoom})`;
  $("zoom-level").textContent = `${Math.round(zoom * 100)}%`;
}

function arrange() {
  layoutAll();
  setDirty(true);
  render();
  requestAnimationFrame(fit);
  notice("Actions arranged from the start action.");
}

/** Keyboard on a focused block: Enter or Space selects it, arrows move it. */
function nodeKeys(e) {
  const node = e.target.closest?.(".drawflow-node");
  if (!node || e.target !== node) return;
  const id = node.dataset.action;
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    select(id);
    return;
  }
  const step = e.shiftKey ? 100 : 20;
  const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
  if (!move) return;
  e.preventDefault();
  const pos = positionOf(id) || { x: 0, y: 0 };
  setPosition(id, pos.x + move[0], pos.y + move[1]);
  setDirty(true);
  render();
  nodeElement(id)?.focus();
}

// ---------- Drawflow events ----------

function setUpEditor() {
  const editor = new window.Drawflow($("canvas"));
  editor.reroute = false;
  editor.zoom_min = 0.2;
  editor.start();
  state.editor = editor;
  editor.on("zoom", (z) => { $("zoom-level").textContent = `${Math.round(z * 100)}%`; });
  $("canvas").addEventListener("keydown", nodeKeys);

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
  for (const [group, icon] of GROUPS) {
    const types = Object.keys(TYPES).filter((t) => blockGroup(t) === group);
    box.append(el("h4", { class: "palette-group", text: `${icon} ${group}` }));
    for (const type of types) {
      box.append(el("button", { type: "button", class: "palette-item", "data-type": type, "data-group": group,
        text: blockName(type), title: type }));
    }
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
  if (NEW_CONDITIONS[type]) {
    a.Transitions.Conditions = NEW_CONDITIONS[type].map(([Operator, operand]) =>
      ({ NextAction: null, Condition: { Operator, Operands: [operand] } }));
  }
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
  $("action-type").replaceChildren(blockName(a.Type), " ", el("span", { class: "muted small mono", text: a.Type }));
  $("action-start").hidden = state.content.StartAction !== a.Identifier;
  $("action-id").value = a.Identifier;
  const fields = TYPES[a.Type]?.fields || [];
  const common = $("common-fields");
  common.replaceChildren();
  for (const f of fields) {
    const v = getField(a.Parameters, f);
    if (PICKERS[f]) {
      common.append(pickerField(f, v));
      continue;
    }
    const input = el("input", { "data-param": f, value: typeof v === "string" || typeof v === "number" ? String(v) : "" });
    if (v !== undefined && typeof v !== "string" && typeof v !== "number") input.value = JSON.stringify(v);
    common.append(el("label", {}, fieldLabel(f), input));
  }
  const next = branches(a).find((b) => b.kind === "next");
  $("next-box").hidden = !next;
  $("next-target").replaceChildren(...targetOptions(a.Identifier));
  $("next-target").value = next?.target || "";
  // What the fields do not show; an object a dotted field is inside stays
  // here (its other keys are kept), the field's value is set on save.
  const rest = Object.fromEntries(Object.entries(a.Parameters || {}).filter(([k]) => !fields.includes(k)));
  for (const f of fields.filter((x) => x.includes("."))) {
    const top = f.split(".")[0];
    if (rest[top] && typeof rest[top] === "object") {
      const copy = JSON.parse(JSON.stringify(rest[top]));
      delete copy[f.split(".").slice(1).join(".")];
      if (Object.keys(copy).length) rest[top] = copy;
      else delete rest[top];
    }
  }
  $("action-params").value = JSON.stringify(rest, null, 2);
  const t = a.Transitions || {};
  $("conditions-box").hidden = !TYPES[a.Type]?.conditions && !(t.Conditions || []).length;
  $("conditions").replaceChildren(...(t.Conditions || []).map((c) => conditionRow(c.Condition?.Operator, (c.Condition?.Operands || [])[0], c.NextAction)));
  $("errors").replaceChildren(...(t.Errors || []).map((e) => errorRow(e.ErrorType, e.NextAction)));
  $("error-types").replaceChildren(...(TYPES[a.Type]?.errors || []).map((x) => el("option", { value: x })));
}

/** A field's label in words, with the name Connect's JSON gives it. */
const FIELD_WORDS = { Text: "Text to say or send", SSML: "SSML", PromptId: "Prompt", QueueId: "Queue",
  AgentId: "Agent (their own queue)", HoursOfOperationId: "Hours of operation", ContactFlowId: "Flow",
  FlowModuleId: "Module", LambdaFunctionARN: "Function", InputTimeLimitSeconds: "Seconds to wait for input",
  StoreInput: "Store the digits (True/False)", InterruptFrequencySeconds: "Interrupt every (seconds)",
  TextToSpeechVoice: "Voice", ComparisonValue: "Value to check", MetricType: "Metric", LoopCount: "Times to loop",
  TimeoutSeconds: "Seconds to wait", ThirdPartyPhoneNumber: "Phone number (E.164)",
  ThirdPartyConnectionTimeLimitSeconds: "Seconds to ring", ContinueFlowExecution: "Continue the flow after (True/False)",
  QueuePriority: "Priority (1 = first)", QueueTimeAdjustmentSeconds: "Time in queue adjustment (seconds)",
  InvocationTimeLimitSeconds: "Seconds to wait for the function", FlowLoggingBehavior: "Logging (Enabled/Disabled)",
  "LexV2Bot.AliasArn": "Bot" };

function fieldLabel(f) {
  return el("span", {}, FIELD_WORDS[f] || f, " ", el("span", { class: "muted small mono", text: f }));
}

/** A parameter that names an object: chosen from the instance's, or typed (a `$.` reference). */
function pickerField(f, v) {
  const picker = PICKERS[f];
  let items = state.objects[picker.path] || [];
  if (f === "FlowModuleId") items = items.filter((o) => o.type === "FLOW_MODULE");
  if (f === "ContactFlowId") items = items.filter((o) => o.type !== "FLOW_MODULE");
  const label = (o) => pickerLabel(picker, o);
  const select = el("select", { "data-param": f },
    el("option", { value: "", text: `— no ${picker.noun} —` }),
    ...items.map((o) => el("option", { value: o.id, text: label(o) })),
    el("option", { value: OTHER, text: "Other: a name or $. reference…" }));
  const other = el("input", { "data-other": f, placeholder: "$.Attributes.name", "aria-label": `${FIELD_WORDS[f] || f}: other value` });
  const known = typeof v === "string" && v ? items.find((o) => o.id === v || label(o) === v) : undefined;
  if (known) select.value = known.id;
  else if (typeof v === "string" && v) {
    select.value = OTHER;
    other.value = v;
  }
  other.hidden = select.value !== OTHER;
  select.addEventListener("change", () => { other.hidden = select.value !== OTHER; });
  return el("label", {}, fieldLabel(f), select, other);
}

/** The actions a branch can lead to, for a keyboard user's select. */
function targetOptions(self) {
  return [el("option", { value: "", text: "(not connected)" }),
    ...state.content.Actions.filter((x) => x.Identifier !== self).map((x) => {
      const label = summary(x);
      const named = GENERATED_ID.test(x.Identifier) ? "" : ` ${x.Identifier}`;
      return el("option", { value: x.Identifier, text: `→ ${blockName(x.Type)}${named}${label ? `: ${label.slice(0, 40)}` : ""}` });
    })];
}

function targetNote(target) {
  const select = el("select", { class: "target", "aria-label": "Goes to" }, ...targetOptions(state.selected));
  select.value = target && actionById(target) ? target : "";
  return select;
}

function conditionRow(operator = "Equals", operand = "", target = null) {
  const select = el("select", { class: "cond-op" }, ...OPERATORS.map((o) => el("option", { value: o, text: o })));
  select.value = operator || "Equals";
  const row = el("div", { class: "branch-row condition" }, select,
    el("input", { class: "cond-operand", value: operand ?? "", placeholder: "value", size: "8" }),
    targetNote(target), el("button", { type: "button", class: "remove ghost", text: "✕", title: "Remove" }));
  return row;
}

function errorRow(type = "", target = null) {
  const row = el("div", { class: "branch-row error-branch" },
    el("input", { class: "err-type", value: type, list: "error-types", placeholder: "ErrorType", size: "18" }),
    targetNote(target), el("button", { type: "button", class: "remove ghost", text: "✕", title: "Remove" }));
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
  for (const input of $("common-fields").querySelectorAll("[data-param]")) {
    const other = $("common-fields").querySelector(`[data-other="${input.dataset.param}"]`);
    const v = (input.value === OTHER ? other?.value ?? "" : input.value).trim();
    if (!v) continue;
    const name = input.dataset.param;
    const wasObject = typeof getField(a.Parameters, name) === "object";
    if (wasObject) {
      try { setField(params, name, JSON.parse(v)); } catch { return problem("Parameters", `${name}: not JSON`); }
    } else setField(params, name, v);
  }
  const conditions = [];
  for (const row of $("conditions").querySelectorAll(".condition")) {
    const operand = row.querySelector(".cond-operand").value.trim();
    if (!operand) return problem("*", "each condition needs a value");
    conditions.push({ NextAction: row.querySelector(".target").value || null, Condition: { Operator: row.querySelector(".cond-op").value, Operands: [operand] } });
  }
  const errors = [];
  for (const row of $("errors").querySelectorAll(".error-branch")) {
    const type = row.querySelector(".err-type").value.trim();
    if (!type) return problem("*", "each error needs an ErrorType");
    if (errors.some((e) => e.ErrorType === type)) return problem("*", `error '${type}' is listed twice`);
    errors.push({ ErrorType: type, NextAction: row.querySelector(".target").value || null });
  }

  a.Parameters = params;
  const t = (a.Transitions ||= {});
  if (!$("next-box").hidden) {
    const next = $("next-target").value;
    if (next) t.NextAction = next; else delete t.NextAction;
  }
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
    $("problems").dataset.valid = String(errors === 0);
    // Unmatched objects block publishing until they exist or the block changes.
    if (missing.length) $("api-error").textContent = `Not publishable yet: ${missing.length} object(s) this instance does not have, listed below. Create them, or pick others in the blocks.`;
  } catch (e) {
    if (e.status === 401) return;
    const errors = e.body?.errors || [];
    err.textContent = errors.length ? errors.map((f) => `${f.field}: ${f.reason}`).join("; ") : e.message;
  }
}

// ---------- versions: history, compare, restore ----------

async function showVersions() {
  clearBanners();
  const list = $("version-list");
  list.replaceChildren();
  $("version-diff").replaceChildren();
  try {
    const { items } = await api(`/flows/${encodeURIComponent(state.flow.id)}/versions`);
    state.versions = items;
    if (!items.length) list.append(el("li", { class: "muted", text: "Not published yet." }));
    for (const v of items) {
      list.append(el("li", { "data-version": String(v.version) },
        el("strong", { text: `Version ${v.version}` }), " ",
        el("span", { class: "muted small", text: `${new Date(v.published_at).toLocaleString()} by ${v.published_by}` }), " ",
        el("button", { type: "button", class: "small-button", "data-compare": String(v.version), text: "Compare with draft" }), " ",
        el("button", { type: "button", class: "small-button", "data-restore": String(v.version), text: "Restore into draft" })));
    }
    $("versions-dialog").showModal();
  } catch (e) {
    showApiError("Listing versions", e);
  }
}

/** What differs between a version and the draft, action by action. */
function diff(older, newer) {
  const byId = (c) => new Map((c.Actions || []).map((a) => [a.Identifier, a]));
  const before = byId(older);
  const after = byId(newer);
  const name = (a) => `${blockName(a.Type)}${GENERATED_ID.test(a.Identifier) ? "" : ` ${a.Identifier}`}${summary(a) ? `: ${summary(a)}` : ""}`;
  const out = [];
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b) out.push(["added", name(a)]);
    else if (JSON.stringify([b.Type, b.Parameters, b.Transitions]) !== JSON.stringify([a.Type, a.Parameters, a.Transitions])) {
      const what = [];
      if (JSON.stringify(b.Parameters) !== JSON.stringify(a.Parameters)) what.push("parameters");
      if (JSON.stringify(b.Transitions) !== JSON.stringify(a.Transitions)) what.push("branches");
      out.push(["changed", `${name(a)} (${what.join(" and ") || "type"})`]);
    }
  }
  for (const [id, b] of before) if (!after.has(id)) out.push(["removed", name(b)]);
  if (older.StartAction !== newer.StartAction) out.push(["changed", `start action: ${older.StartAction || "none"} → ${newer.StartAction || "none"}`]);
  return out;
}

function versionAction(e) {
  const compare = e.target.closest("[data-compare]")?.dataset.compare;
  const restore = e.target.closest("[data-restore]")?.dataset.restore;
  const version = (state.versions || []).find((v) => String(v.version) === (compare || restore));
  if (!version) return;
  if (compare) {
    const changes = diff(version.content, serialize());
    const box = $("version-diff");
    box.dataset.version = compare;
    box.replaceChildren(el("h4", { text: `Version ${compare} → draft` }),
      changes.length
        ? el("ul", {}, ...changes.map(([kind, text]) => el("li", { class: `diff-${kind}`, "data-kind": kind },
          el("strong", { text: kind }), " ", text)))
        : el("p", { class: "muted", text: "The draft is the same as this version." }));
  } else {
    state.content = clone(version.content);
    state.content.Metadata ||= {};
    state.content.Metadata.ActionMetadata ||= {};
    for (const a of state.content.Actions) { a.Parameters ||= {}; a.Transitions ||= {}; }
    layoutMissing();
    setDirty(true);
    state.selected = null;
    render();
    showPanel();
    $("versions-dialog").close();
    requestAnimationFrame(fit);
    notice(`Version ${restore} restored into the draft: save to keep it, or undo.`);
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
      body: { digits, channel: $("sim-channel").value, now: simulatedTime() } });
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

/** The time the simulated contact arrives: the picker's local time, or now. */
function simulatedTime() {
  const v = $("sim-at").value;
  if (!v) return undefined;
  const at = new Date(v);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
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
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("fit").addEventListener("click", fit);
  $("zoom-in").addEventListener("click", () => zoomBy(1.2));
  $("zoom-out").addEventListener("click", () => zoomBy(1 / 1.2));
  $("arrange").addEventListener("click", arrange);
  $("versions-open").addEventListener("click", showVersions);
  $("versions-close").addEventListener("click", () => $("versions-dialog").close());
  $("version-list").addEventListener("click", versionAction);
  document.addEventListener("keydown", (e) => {
    if ($("designer").hidden || !(e.ctrlKey || e.metaKey)) return;
    if (e.target.closest?.("input, textarea, select")) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    else if ((key === "z" && e.shiftKey) || key === "y") { e.preventDefault(); redo(); }
  });
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
