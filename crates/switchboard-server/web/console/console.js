// Switchboard console for administrators: every configuration kind, listed,
// created, edited and deleted through the REST API. The forms are generated
// from the OpenAPI document's schemas, so a new field in the model shows up
// here without touching this file.
//
// Everything the server sends is drawn with textContent. Each generated input
// carries `data-path` (e.g. `queue_configs[0].priority`), the same path the
// API names in `errors[].field`, so an error lands next to its input.

import {
  $,
  API,
  STAFF_TOKEN_KEY,
  Session,
  clearErrors as clearFieldErrors,
  el,
  showErrors as showFieldErrors,
  showSignIn,
  wireSignIn,
} from "/shared/session.js";

const session = new Session(STAFF_TOKEN_KEY, (message) => signedOut(message));
const token = () => session.token();
const api = (path, options) => session.api(path, options);

/** The kinds, in sidebar order. `perm` is the permission prefix; `view` the permissions that let one read (the API's guards). */
const KINDS = [
  { path: "users", label: "Users", schema: "User", view: ["Users.View"], create: "Users.Create", edit: "Users.Edit", del: "Users.Delete", title: "username", cols: ["username", "first_name", "last_name", "routing_profile", "security_profiles"] },
  { path: "security-profiles", label: "Security profiles", schema: "SecurityProfile", perm: "SecurityProfiles", cols: ["name", "description"] },
  { path: "agent-statuses", label: "Agent statuses", schema: "AgentStatus", perm: "AgentStates", view: ["AgentStates.View", "BasicAgentAccess"], cols: ["name", "type", "enabled", "display_order"] },
  { path: "hours-of-operation", label: "Hours of operation", schema: "HoursOfOperation", perm: "HoursOfOperation", cols: ["name", "time_zone", "description"] },
  { path: "queues", label: "Queues", schema: "Queue", perm: "Queues", cols: ["name", "hours_of_operation", "max_contacts", "status"] },
  { path: "routing-profiles", label: "Routing profiles", schema: "RoutingProfile", perm: "RoutingPolicies", cols: ["name", "default_outbound_queue", "queue_configs", "description"] },
  { path: "phone-numbers", label: "Phone numbers", schema: "PhoneNumber", view: ["PhoneNumbers.View"], create: "PhoneNumbers.Claim", edit: "PhoneNumbers.Edit", del: "PhoneNumbers.Release", title: "number", cols: ["number", "country_code", "number_type", "flow"] },
  { path: "prompts", label: "Prompts", schema: "Prompt", perm: "Prompts", cols: ["name", "description", "audio"] },
  { path: "quick-connects", label: "Quick connects", schema: "QuickConnect", perm: "TransferDestinations", view: ["TransferDestinations.View", "BasicAgentAccess"], cols: ["name", "target", "description"] },
  { path: "sip-trunks", label: "SIP trunks", schema: "SipTrunk", perm: "SipTrunks", cols: ["name", "transport", "inbound_addresses", "outbound_proxy", "registration"] },
  { path: "external-functions", label: "External functions", schema: "ExternalFunction", perm: "ExternalFunctions", cols: ["name", "url", "description"] },
  { path: "flows", label: "Flows", schema: "Flow", perm: "ContactFlows", cols: ["name", "type", "description"] },
].map((k) => ({
  title: "name",
  view: [`${k.perm}.View`],
  create: `${k.perm}.Create`,
  edit: `${k.perm}.Edit`,
  del: `${k.perm}.Delete`,
  ...k,
}));
const KIND = Object.fromEntries(KINDS.map((k) => [k.path, k]));

/** Fields that name another object, and the kind they name. */
const REFERENCES = {
  queue: "queues",
  default_outbound_queue: "queues",
  routing_profile: "routing-profiles",
  hours_of_operation: "hours-of-operation",
  flow: "flows",
  customer_queue_flow: "flows",
  outbound_flow: "flows",
  security_profiles: "security-profiles",
  quick_connects: "quick-connects",
  outbound_caller_id_number: "phone-numbers",
  user: "users",
};

/** Fields shown as password inputs. */
const SECRET = new Set(["password", "sip_password"]);
/** Properties the server sets itself (besides `readOnly` ones). */
const SERVER_SET = { Prompt: new Set(["audio"]) };

const consoleState = {
  me: null,
  openapi: null,
  kind: null,
  lists: new Map(), // path -> Promise<items>
  permissions: null,
  form: null, // { kind, record, control }
  audioUrl: null,
};
window.consoleState = consoleState; // for the browser tests

// ---------- helpers ----------

const can = (p) => consoleState.me?.permissions.includes(p);
const canView = (kind) => kind.view.some(can);
const humanize = (name) => name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

/** The items of a kind (cached until a write to that kind); null if the caller may not see them. */
function listOf(path) {
  if (!consoleState.lists.has(path)) {
    const kind = KIND[path];
    const p = kind && !canView(kind)
      ? Promise.resolve(null)
      : api(`/${path}`).then((r) => r.items, () => null);
    consoleState.lists.set(path, p);
  }
  return consoleState.lists.get(path);
}

/** Each trunk that registers with its carrier, by name: where it stands. */
function trunkRegistrations() {
  return api("/sip-trunk-registrations").then(
    (r) => new Map(r.items.map((row) => [row.trunk, row])),
    () => new Map(),
  );
}

/** A trunk's registration as the list shows it. */
function registrationText(row) {
  if (!row) return "—";
  if (row.state === "REGISTERED") return `Registered until ${new Date(row.until).toLocaleTimeString()}`;
  if (row.state === "FAILED") return `Failed: ${row.status ? `${row.status} ` : ""}${row.reason}`;
  return "Registering…";
}

const labelOf = (path, item) => {
  const kind = KIND[path];
  return String(item[kind?.title || "name"] ?? item.name ?? item.username ?? item.number ?? item.id);
};

// ---------- sign in ----------

async function signOut() {
  const ended = session.signOut();
  signedOut("");
  await ended;
}

function signedOut(message) {
  session.forget();
  consoleState.me = null;
  consoleState.lists.clear();
  showSignIn(message);
}

async function start() {
  if (!token()) return signedOut("");
  try {
    [consoleState.me, consoleState.openapi] = await Promise.all([
      api("/me"),
      consoleState.openapi ? Promise.resolve(consoleState.openapi) : fetch(`${API}/openapi.json`).then((r) => r.json()),
    ]);
  } catch (e) {
    if (e.status !== 401) signedOut(e.message);
    return;
  }
  consoleState.lists.clear();
  const user = consoleState.me.user || {};
  $("user-name").textContent = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || "";
  const nav = $("nav");
  nav.replaceChildren();
  for (const kind of KINDS.filter(canView)) {
    const button = el("button", { type: "button", "data-kind": kind.path, text: kind.label });
    button.addEventListener("click", () => go(kind.path));
    nav.append(el("li", {}, button));
  }
  $("login").hidden = true;
  $("workspace").hidden = false;
  const visible = KINDS.filter(canView);
  $("no-access").hidden = visible.length > 0;
  if (!visible.length) {
    $("list-view").hidden = true;
    $("form-view").hidden = true;
    return;
  }
  route();
}

// ---------- navigation: #kind, #kind/new, #kind/<id> ----------

function go(hash) {
  if (location.hash === `#${hash}`) route();
  else location.hash = hash;
}

function route() {
  if (!consoleState.me) return;
  const [path, id] = decodeURIComponent(location.hash.slice(1)).split("/");
  const kind = KIND[path] && canView(KIND[path]) ? KIND[path] : KINDS.find(canView);
  if (!kind) return;
  consoleState.kind = kind;
  for (const b of $("nav").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.kind === kind.path));
  if (id === "new" && can(kind.create)) openForm(kind, null);
  else if (id) openRecord(kind, id);
  else showList(kind);
}

// ---------- lists ----------

/** A cell's text: names for references, short summaries for structures. */
async function cellText(kind, column, value) {
  if (value === null || value === undefined || value === "") return "—";
  const ref = REFERENCES[column];
  if (ref) {
    const items = (await listOf(ref)) || [];
    const name = (id) => {
      const found = items.find((i) => i.id === id);
      return found ? labelOf(ref, found) : id;
    };
    return Array.isArray(value) ? value.map(name).join(", ") || "—" : name(value);
  }
  if (column === "queue_configs" && Array.isArray(value)) {
    const queues = (await listOf("queues")) || [];
    return value
      .map((c) => `${queues.find((q) => q.id === c.queue)?.name ?? c.queue} (${c.channel}, ${c.priority})`)
      .join(", ") || "—";
  }
  if (column === "target" && typeof value === "object") {
    const what = value.user ? labelOf("users", (await listOf("users"))?.find((u) => u.id === value.user) || { username: value.user })
      : value.queue ? ((await listOf("queues"))?.find((q) => q.id === value.queue)?.name ?? value.queue)
      : value.phone_number;
    return `${value.type}: ${what}`;
  }
  if (column === "audio" && typeof value === "object") {
    return `${(value.duration_ms / 1000).toFixed(1)} s, ${value.sample_rate} Hz`;
  }
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.join(", ") || "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

async function showList(kind) {
  $("form-view").hidden = true;
  $("list-view").hidden = false;
  $("list-title").textContent = kind.label;
  $("list-error").textContent = "";
  $("create").hidden = kind.path === "flows" || !can(kind.create);
  $("create").textContent = kind.path === "prompts" ? "Upload prompt" : `Create`;
  $("new-flow").hidden = kind.path !== "flows" || !can(kind.create);
  const table = $("list-table");
  table.dataset.kind = kind.path;
  table.dataset.ready = "false";
  const head = el("tr");
  for (const c of kind.cols) head.append(el("th", { text: humanize(c) }));
  head.append(el("th", { text: "" }));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren();
  consoleState.lists.delete(kind.path);
  const items = await listOf(kind.path);
  if (consoleState.kind !== kind) return;
  if (items === null) {
    $("list-error").textContent = "Switchboard refused the list.";
    return;
  }
  // Read beside the list, not into it: the items are what a form sends back.
  const registrations = kind.path === "sip-trunks" ? await trunkRegistrations() : new Map();
  const rows = [];
  for (const item of items) {
    const tr = el("tr", { tabindex: "0", "data-id": item.id, "data-name": labelOf(kind.path, item) });
    for (const c of kind.cols) {
      const text = c === "registration"
        ? (item.register ? registrationText(registrations.get(item.name) || { state: "PENDING" }) : "—")
        : await cellText(kind, c, item[c]);
      tr.append(el("td", { "data-col": c, text }));
    }
    const actions = el("td", { class: "actions" });
    if (kind.path === "flows") {
      actions.append(el("a", { class: "button small-button", href: `/console/designer?flow=${encodeURIComponent(item.id)}`, text: "Open in designer" }));
    }
    tr.append(actions);
    if (kind.path !== "flows") {
      tr.addEventListener("click", () => go(`${kind.path}/${item.id}`));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") go(`${kind.path}/${item.id}`); });
    } else {
      tr.classList.add("plain");
    }
    rows.push(tr);
  }
  if (consoleState.kind !== kind) return;
  table.tBodies[0].replaceChildren(...rows);
  $("list-empty").hidden = items.length > 0;
  table.dataset.ready = "true";
}

// ---------- the schema ----------

function resolve(schema) {
  let s = schema || {};
  while (s.$ref) s = consoleState.openapi.components.schemas[s.$ref.split("/").pop()] || {};
  return s;
}
const typesOf = (s) => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);
const nullable = (s) => typesOf(s).includes("null");
const baseType = (s) => typesOf(s).find((t) => t !== "null") || (s.properties ? "object" : s.enum ? "string" : undefined);
const join = (path, name) => (path ? `${path}.${name}` : name);

/** The property that tells a oneOf's variants apart (each variant has it with one enum value). */
function discriminator(variants) {
  const first = variants[0];
  for (const name of Object.keys(first.properties || {})) {
    if (variants.every((v) => resolve(v.properties?.[name]).enum?.length === 1)) return name;
  }
  return null;
}

// ---------- controls: { node, get() } built from a schema ----------

/** A labelled field with its error slot. */
function field(label, path, input, help, required) {
  const wrap = el("div", { class: "field", "data-field-path": path });
  const title = el("span", { class: "field-label", text: label });
  if (required) title.append(el("span", { class: "required", text: " *", "aria-hidden": "true" }));
  const labelNode = el("label", {}, title, input);
  wrap.append(labelNode);
  if (help) wrap.append(el("span", { class: "help muted small", text: help.split("\n").join(" ") }));
  wrap.append(el("span", { class: "field-error", "data-error-for": path, role: "alert" }));
  return wrap;
}

async function buildControl(schema, path, value, ctx) {
  const s = resolve(schema);
  const name = path.split(/[.[]/).pop().replace(/]$/, "");
  const ref = REFERENCES[ctx.name ?? name];
  const type = baseType(s);
  const isNull = nullable(s);

  if (s.oneOf) return buildOneOf(s, path, value, ctx);

  if (type === "object" && s.properties) return buildObject(s, path, value || {}, ctx);

  if (type === "object") {
    // Free-form JSON (a flow's content).
    const input = el("textarea", { "data-path": path, rows: "6", class: "mono" });
    input.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    return {
      node: input,
      get() {
        if (!input.value.trim()) return undefined;
        try { return JSON.parse(input.value); } catch { return input.value; }
      },
    };
  }

  if (type === "array") {
    const items = resolve(s.items);
    const itemRef = REFERENCES[name];
    if (baseType(items) === "string" && !items.enum && (itemRef || name === "permissions")) {
      const options = name === "permissions"
        ? (await permissionList()).map((p) => ({ value: p.name, label: p.name, title: p.description }))
        : ((await listOf(itemRef)) || null)?.map((i) => ({ value: i.id, label: labelOf(itemRef, i) }));
      if (options) return buildChecklist(path, options, value || []);
    }
    return buildArray(items, path, value || [], ctx, name);
  }

  if (s.enum) {
    const select = el("select", { "data-path": path });
    if (isNull || !ctx.required) select.append(el("option", { value: "", text: isNull ? "— none —" : "— default —" }));
    for (const v of s.enum) if (v !== null) select.append(el("option", { value: v, text: v }));
    select.value = value ?? (ctx.required ? s.enum[0] : "");
    return {
      node: select,
      get: () => (select.value === "" ? (isNull ? null : undefined) : select.value),
    };
  }

  if (type === "boolean") {
    const input = el("input", { type: "checkbox", "data-path": path });
    input.checked = Boolean(value);
    return { node: input, get: () => input.checked };
  }

  if (type === "integer" || type === "number") {
    const input = el("input", { type: "number", "data-path": path, step: type === "integer" ? "1" : "any" });
    if (value !== undefined && value !== null) input.value = String(value);
    return {
      node: input,
      get() {
        const raw = input.value.trim();
        if (raw === "") return isNull ? null : undefined;
        const n = Number(raw);
        return Number.isFinite(n) ? n : raw;
      },
    };
  }

  // Strings: a select of another kind's objects when the field names one.
  if (ref && type === "string") {
    const items = await listOf(ref);
    if (items) {
      const select = el("select", { "data-path": path, "data-ref": ref });
      select.append(el("option", { value: "", text: isNull || !ctx.required ? "— none —" : "— choose —" }));
      for (const i of items) {
        const extra = ref === "flows" && i.type !== "CONTACT_FLOW" ? ` (${i.type})` : "";
        select.append(el("option", { value: i.id, text: labelOf(ref, i) + extra }));
      }
      if (value && !items.some((i) => i.id === value)) select.append(el("option", { value, text: value }));
      select.value = value ?? "";
      return {
        node: select,
        get: () => (select.value === "" ? (isNull ? null : ctx.required ? "" : undefined) : select.value),
      };
    }
  }
  const input = el("input", {
    "data-path": path,
    type: SECRET.has(name) ? "password" : s.format === "date" ? "date" : "text",
    autocomplete: SECRET.has(name) ? "new-password" : "off",
  });
  if (value !== undefined && value !== null) input.value = String(value);
  return {
    node: input,
    get() {
      if (input.value === "") return isNull ? null : ctx.required ? "" : (ctx.keepEmpty ? "" : undefined);
      return input.value;
    },
  };
}

async function buildObject(s, path, value, ctx) {
  const box = el("div", { class: path ? "object nested" : "object", "data-path": path || null });
  const required = new Set(s.required || []);
  const controls = {};
  const skip = SERVER_SET[ctx.schemaName] || new Set();
  const first = ["name", "username", "number"];
  const order = Object.entries(s.properties).sort(
    ([a], [b]) => (first.includes(a) ? 0 : 1) - (first.includes(b) ? 0 : 1),
  );
  for (const [name, prop] of order) {
    const p = resolve(prop);
    if (prop.readOnly || p.readOnly || (!path && skip.has(name))) continue;
    if (ctx.fixed && name === ctx.fixed) continue;
    const sub = join(path, name);
    const control = await buildControl(prop, sub, value[name], {
      ...ctx, name: undefined, required: required.has(name), keepEmpty: ctx.editing,
    });
    controls[name] = control;
    const help = prop.description || p.description;
    const t = baseType(p);
    if ((t === "object" && p.properties) || p.oneOf || (t === "array" && !control.checklist)) {
      const fs = el("fieldset", { class: "group", "data-field-path": sub });
      const legend = el("legend", { text: humanize(name) });
      if (required.has(name)) legend.append(el("span", { class: "required", text: " *" }));
      fs.append(legend);
      if (help) fs.append(el("p", { class: "help muted small", text: help.split("\n").join(" ") }));
      fs.append(el("span", { class: "field-error", "data-error-for": sub, role: "alert" }));
      fs.append(control.node);
      box.append(fs);
    } else {
      box.append(field(humanize(name), sub, control.node, help, required.has(name)));
    }
  }
  return {
    node: box,
    get() {
      const out = {};
      if (ctx.fixed) out[ctx.fixed] = ctx.fixedValue;
      for (const [name, c] of Object.entries(controls)) {
        const v = c.get();
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
  };
}

async function buildOneOf(s, path, value, ctx) {
  const variants = s.oneOf.map(resolve);
  const key = discriminator(variants);
  const box = el("div", { class: "object nested oneof" });
  const choose = el("select", { "data-path": join(path, key || "variant") });
  variants.forEach((v, i) => {
    const tag = key ? resolve(v.properties[key]).enum[0] : `Option ${i + 1}`;
    choose.append(el("option", { value: String(i), text: tag }));
  });
  const holder = el("div");
  box.append(field(humanize(key || "variant"), join(path, key || "variant"), choose, null, true), holder);
  let current = null;
  const render = async (i, v) => {
    const variant = variants[i];
    const fixedValue = key ? resolve(variant.properties[key]).enum[0] : undefined;
    current = await buildObject(variant, path, v || {}, { ...ctx, fixed: key, fixedValue });
    holder.replaceChildren(current.node);
  };
  let start = 0;
  if (value && key) start = Math.max(0, variants.findIndex((v) => resolve(v.properties[key]).enum[0] === value[key]));
  choose.value = String(start);
  await render(start, value);
  choose.addEventListener("change", () => render(Number(choose.value), {}));
  return { node: box, get: () => current.get() };
}

function buildChecklist(path, options, value) {
  const box = el("div", { class: "checklist", "data-path": path });
  const inputs = [];
  const known = new Set(options.map((o) => o.value));
  for (const v of value) if (!known.has(v)) options.push({ value: v, label: v });
  if (!options.length) box.append(el("span", { class: "muted small", text: "None exist yet." }));
  for (const o of options) {
    const input = el("input", { type: "checkbox", value: o.value, "data-label": o.label });
    input.checked = value.includes(o.value);
    inputs.push(input);
    box.append(el("label", { class: "check", title: o.title }, input, el("span", { text: o.label })));
  }
  return { node: box, checklist: true, get: () => inputs.filter((i) => i.checked).map((i) => i.value) };
}

async function buildArray(items, path, value, ctx, name) {
  const box = el("div", { class: "array", "data-path": path });
  const list = el("div", { class: "rows" });
  const add = el("button", { type: "button", class: "add-row", "data-add": path, text: `Add ${humanize(name).replace(/ies$/, "y").replace(/s$/, "").toLowerCase()}` });
  box.append(list, add);
  let rows = [];
  const render = async (values) => {
    const built = [];
    for (let i = 0; i < values.length; i++) {
      const sub = `${path}[${i}]`;
      const control = await buildControl(items, sub, values[i], { ...ctx, name, required: true, keepEmpty: true });
      const remove = el("button", { type: "button", class: "ghost remove-row", "data-remove": sub, "aria-label": "Remove", text: "✕" });
      remove.addEventListener("click", () => {
        const now = rows.map((r) => r.get());
        now.splice(i, 1);
        rerender(now);
      });
      const row = el("div", { class: "row", "data-row": sub }, control.node, remove);
      if (!(baseType(resolve(items)) === "object")) {
        row.replaceChildren(el("div", { class: "field" }, control.node, el("span", { class: "field-error", "data-error-for": sub })), remove);
      }
      built.push(control);
      list.append(row);
    }
    return built;
  };
  const rerender = async (values) => {
    list.replaceChildren();
    rows = await render(values);
  };
  rows = await render(value);
  add.addEventListener("click", async () => {
    const now = rows.map((r) => r.get());
    now.push(undefined);
    await rerender(now);
  });
  // Removing re-renders, so paths stay `name[0]`, `name[1]`...
  return { node: box, get: () => rows.map((r) => r.get()) };
}

let permissionsPromise = null;
function permissionList() {
  permissionsPromise ??= api("/permissions").catch(() => []);
  return permissionsPromise;
}

// ---------- the form ----------

function clearErrors() {
  clearFieldErrors($("object-form"), $("form-error"));
  $("form-status").textContent = "";
}

/** Puts each error under the input its path names (or its closest ancestor); the message on top. */
function showErrors(failure) {
  showFieldErrors($("object-form"), failure, $("form-error"));
}

async function openRecord(kind, id) {
  try {
    const record = await api(`/${kind.path}/${encodeURIComponent(id)}`);
    if (kind.path === "flows") {
      location.href = `/console/designer?flow=${encodeURIComponent(record.id)}`;
      return;
    }
    await openForm(kind, record);
  } catch (e) {
    if (e.status === 401) return;
    showList(kind);
    $("list-error").textContent = e.message;
  }
}

async function openForm(kind, record) {
  clearErrors();
  $("list-view").hidden = true;
  $("form-view").hidden = false;
  const editing = Boolean(record);
  const mayWrite = editing ? can(kind.edit) : can(kind.create);
  $("form-title").textContent = editing
    ? `${kind.label}: ${labelOf(kind.path, record)}`
    : kind.path === "prompts" ? "Upload a prompt" : `New ${kind.label.toLowerCase().replace(/s$/, "")}`;
  const form = $("object-form");
  form.dataset.kind = kind.path;
  form.dataset.mode = editing ? "edit" : "create";
  form.dataset.ready = "false";
  $("fields").replaceChildren();
  $("extra").replaceChildren();
  if (consoleState.audioUrl) {
    URL.revokeObjectURL(consoleState.audioUrl);
    consoleState.audioUrl = null;
  }
  const ctx = { schemaName: kind.schema, editing };
  let control;
  if (kind.path === "prompts" && !editing) {
    const name = el("input", { "data-path": "name", type: "text" });
    const description = el("input", { "data-path": "description", type: "text" });
    const file = el("input", { "data-path": "file", type: "file", accept: ".wav,audio/wav,audio/x-wav" });
    $("fields").append(
      field("Name", "name", name, null, true),
      field("Description", "description", description),
      field("WAV file", "file", file, "8000-48000 Hz, mono or stereo, at most 10 minutes.", true),
    );
    control = {
      get() {
        const data = new FormData();
        data.append("name", name.value);
        if (description.value) data.append("description", description.value);
        if (file.files[0]) data.append("file", file.files[0]);
        return data;
      },
      multipart: true,
    };
  } else {
    control = await buildControl({ $ref: `#/components/schemas/${kind.schema}` }, "", record || {}, ctx);
    $("fields").append(control.node);
  }
  if (kind.path === "users") {
    const mine = editing && record.id === consoleState.me.user.id;
    if (!editing || mine || can("Users.EditPermission")) {
      const box = el("fieldset", { class: "group" }, el("legend", { text: editing ? "Change password" : "Password" }));
      if (mine) {
        const current = el("input", { type: "password", "data-path": "current_password", autocomplete: "current-password" });
        box.append(field("Current password", "current_password", current));
        control.current = current;
      }
      const pw = el("input", { type: "password", "data-path": editing ? "new_password" : "password", autocomplete: "new-password" });
      box.append(field(editing ? "New password (leave empty to keep)" : "Password", editing ? "new_password" : "password", pw, null, !editing));
      control.password = pw;
      $("extra").append(box);
    }
  }
  if (kind.path === "prompts" && editing) {
    const player = el("audio", { id: "prompt-player", controls: true, preload: "auto" });
    const box = el("fieldset", { class: "group" }, el("legend", { text: "Listen" }), player);
    const info = record.audio;
    if (info) box.append(el("p", { class: "muted small", text: `${(info.duration_ms / 1000).toFixed(1)} s · ${info.sample_rate} Hz · ${info.channels === 1 ? "mono" : "stereo"} · ${info.size_bytes} bytes` }));
    $("extra").append(box);
    api(`/prompts/${encodeURIComponent(record.id)}/audio`, { raw: true })
      .then((r) => r.blob())
      .then((blob) => {
        consoleState.audioUrl = URL.createObjectURL(blob);
        player.src = consoleState.audioUrl;
        player.dataset.loaded = "true";
      })
      .catch((e) => { $("form-status").textContent = `The audio cannot be loaded: ${e.message}`; });
  }
  for (const input of form.querySelectorAll("#fields input, #fields select, #fields textarea, #fields button")) input.disabled = !mayWrite;
  $("save").hidden = !mayWrite;
  $("delete").hidden = !editing || !can(kind.del) || record.builtin;
  consoleState.form = { kind, record, control };
  form.dataset.ready = "true";
}

async function save(event) {
  event.preventDefault();
  const { kind, record, control } = consoleState.form || {};
  if (!kind) return;
  clearErrors();
  $("save").disabled = true;
  try {
    let saved;
    if (kind.path === "prompts" && !record) {
      saved = await api("/prompts", { method: "POST", form: control.get() });
    } else {
      const body = control.get();
      if (kind.path === "users" && !record) body.password = control.password?.value ?? "";
      saved = record
        ? await api(`/${kind.path}/${encodeURIComponent(record.id)}`, { method: "PUT", body, headers: { "if-match": String(record.version) } })
        : await api(`/${kind.path}`, { method: "POST", body });
      if (kind.path === "users" && record && control.password?.value) {
        const change = { new_password: control.password.value };
        if (control.current) change.current_password = control.current.value;
        await api(`/users/${encodeURIComponent(record.id)}/password`, { method: "POST", body: change });
      }
    }
    consoleState.lists.delete(kind.path);
    $("form-status").textContent = "Saved.";
    go(kind.path);
    void saved;
  } catch (e) {
    if (e.status !== 401) showErrors(e);
  } finally {
    $("save").disabled = false;
  }
}

async function remove() {
  const { kind, record } = consoleState.form || {};
  if (!kind || !record) return;
  if (!window.confirm(`Delete ${labelOf(kind.path, record)}? This cannot be undone.`)) return;
  clearErrors();
  try {
    await api(`/${kind.path}/${encodeURIComponent(record.id)}`, { method: "DELETE" });
    consoleState.lists.delete(kind.path);
    go(kind.path);
  } catch (e) {
    if (e.status !== 401) showErrors(e);
  }
}

// ---------- wiring ----------

wireSignIn(session, start);
$("logout").addEventListener("click", signOut);
$("object-form").addEventListener("submit", save);
$("delete").addEventListener("click", remove);
$("cancel").addEventListener("click", () => go(consoleState.kind.path));
$("back").addEventListener("click", () => go(consoleState.kind.path));
$("create").addEventListener("click", () => go(`${consoleState.kind.path}/new`));
window.addEventListener("hashchange", route);
start();
