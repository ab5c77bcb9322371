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
  { path: "users", label: "Users", schema: "User", serverPaged: true, view: ["Users.View"], create: "Users.Create", edit: "Users.Edit", del: "Users.Delete", title: "username", cols: ["username", "first_name", "last_name", "routing_profile", "security_profiles"] },
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
  { path: "bots", label: "Bots", schema: "Bot", perm: "Bots", cols: ["name", "description", "locales"] },
  { path: "audit-log", label: "Audit log", screen: "audit", view: ["AuditLog.View"] },
  { path: "api-keys", label: "API keys", screen: "keys", view: ["ApiKeys.Manage"] },
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
  codeHookFunction: "external-functions",
};

/** Fields in the order a person fills them in; the rest follow alphabetically. */
const FIELD_ORDER = ["name", "username", "number", "first_name", "last_name", "email", "description",
  "status", "type", "enabled", "time_zone", "config", "overrides", "day", "start_date", "end_date", "start", "end",
  "hours", "minutes", "hours_of_operation", "max_contacts", "outbound_caller_id_name", "outbound_caller_id_number",
  "outbound_flow", "security_profiles", "routing_profile", "phone_config", "phone_type", "auto_accept",
  "after_contact_work_timeout_seconds", "desk_phone_number", "sip_password", "media_concurrencies",
  "queue_configs", "default_outbound_queue", "queue", "channel", "priority", "delay", "permissions"];
const fieldRank = (name) => {
  const i = FIELD_ORDER.indexOf(name);
  return i < 0 ? FIELD_ORDER.length : i;
};
/** Labels written for people where the API's name says too little. */
const LABELS = {
  max_contacts: "Most contacts waiting", hours_of_operation: "Hours of operation", time_zone: "Time zone",
  config: "Weekly hours", overrides: "Exceptions (holidays)", outbound_caller_id_name: "Caller ID name (outbound)",
  outbound_caller_id_number: "Caller ID number (outbound)", outbound_flow: "Outbound whisper flow",
  security_profiles: "Security profiles", routing_profile: "Routing profile", phone_config: "Phone",
  after_contact_work_timeout_seconds: "After-contact work limit (seconds, 0 = none)",
  desk_phone_number: "Desk phone number (forward to)", sip_password: "Desk phone SIP password",
  media_concurrencies: "Channels and how many at once", queue_configs: "Queues it takes contacts from",
  default_outbound_queue: "Default outbound queue", display_order: "Order in the status list",
  customer_queue_flow: "Customer queue flow", quick_connects: "Quick connects", auto_accept: "Accept calls automatically",
  inbound_addresses: "Addresses calls come from", outbound_proxy: "Outbound proxy", first_name: "First name",
  last_name: "Last name", url: "URL", delay: "Delay (seconds)",
};
const labelFor = (name) => LABELS[name] || humanize(name);

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
// snake_case and a bot's camelCase (Lex's names) alike: "sample utterances".
const humanize = (name) => name.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, (_, a, b) => `${a} ${b.toLowerCase()}`).replace(/^./, (c) => c.toUpperCase());

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
  // What the last screen was still loading must not land on this one.
  clearTimeout(searchTimer);
  consoleState.view = null;
  consoleState.screen = (consoleState.screen || 0) + 1;
  for (const b of $("nav").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.kind === kind.path));
  if (kind.screen === "audit") showAudit();
  else if (kind.screen === "keys") showApiKeys();
  else if (id === "new" && can(kind.create)) openForm(kind, null);
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
  if (column === "locales" && Array.isArray(value)) {
    return value.map((l) => `${l.localeId}: ${l.intents.length} intent(s)`).join(", ") || "—";
  }
  if (column === "audio" && typeof value === "object") {
    return `${(value.duration_ms / 1000).toFixed(1)} s, ${value.sample_rate} Hz`;
  }
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.join(", ") || "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const PAGE = 25;

/** Shows the kind's rows that match the search, sorted, one page at a time. */
function drawRows() {
  const view = consoleState.view;
  if (!view) return;
  if (view.server) return;
  const q = $("list-search").value.trim().toLowerCase();
  let rows = view.rows.filter((r) => !q || r.texts.some((t) => t.toLowerCase().includes(q)));
  if (view.sort) {
    const { col, dir } = view.sort;
    rows = [...rows].sort((a, b) => dir * a.texts[col].localeCompare(b.texts[col], undefined, { numeric: true }));
  }
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  view.page = Math.min(view.page, pages - 1);
  $("list-table").tBodies[0].replaceChildren(...rows.slice(view.page * PAGE, (view.page + 1) * PAGE).map((r) => r.tr));
  $("page-info").textContent = rows.length
    ? `${view.page * PAGE + 1}–${Math.min(rows.length, (view.page + 1) * PAGE)} of ${rows.length}${q ? ` matching “${q}”` : ""}`
    : q ? `Nothing matches “${q}”.` : "";
  $("prev-page").disabled = view.page === 0;
  $("next-page").disabled = view.page >= pages - 1;
  $("pager").hidden = rows.length <= PAGE && view.page === 0;
  for (const th of $("list-table").tHead.querySelectorAll("th[data-col]")) {
    const i = Number(th.dataset.index);
    th.setAttribute("aria-sort", view.sort?.col === i ? (view.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
}

/** Lists that can grow (users) come a page at a time from the server, searched there. */
const SERVER_PAGE = 25;

async function serverPage() {
  const view = consoleState.view;
  const { kind } = view;
  const table = $("list-table");
  table.dataset.ready = "false";
  const q = $("list-search").value.trim();
  const params = new URLSearchParams({ limit: String(SERVER_PAGE) });
  if (view.cursors[view.page]) params.set("after", view.cursors[view.page]);
  if (q) params.set("search", q);
  let page;
  try {
    page = await api(`/${kind.path}?${params}`);
  } catch (e) {
    if (e.status !== 401) $("list-error").textContent = e.message;
    return;
  }
  if (consoleState.view !== view) return;
  const rows = [];
  for (const item of page.items) {
    const texts = [];
    for (const c of kind.cols) texts.push(await cellText(kind, c, item[c]));
    rows.push(listRow(kind, item, texts));
  }
  if (consoleState.view !== view) return;
  view.cursors[view.page + 1] = page.next ?? null;
  view.more = Boolean(page.next);
  table.tBodies[0].replaceChildren(...rows);
  $("page-info").textContent = page.items.length
    ? `Page ${view.page + 1}${q ? `, matching “${q}”` : ""}`
    : q ? `Nothing matches “${q}”.` : "";
  $("prev-page").disabled = view.page === 0;
  $("next-page").disabled = !view.more;
  $("pager").hidden = view.page === 0 && !view.more;
  $("list-empty").hidden = page.items.length > 0 || Boolean(q);
  table.dataset.ready = "true";
}

function turnPage(by) {
  const view = consoleState.view;
  if (!view) return;
  view.page = Math.max(0, view.page + by);
  if (view.server) serverPage();
  else drawRows();
}

let searchTimer = null;
function searchChanged() {
  const view = consoleState.view;
  if (!view) return;
  view.page = 0;
  if (!view.server) return drawRows();
  // Asked of the server once typing pauses.
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    view.cursors = [null];
    serverPage();
  }, 250);
}

function sortBy(index) {
  const view = consoleState.view;
  view.sort = view.sort?.col === index ? { col: index, dir: -view.sort.dir } : { col: index, dir: 1 };
  drawRows();
}

/** One object's row: its cells' texts, and opening it on click or Enter (flows open in the designer). */
function listRow(kind, item, texts) {
  const tr = el("tr", { tabindex: "0", "data-id": item.id, "data-name": labelOf(kind.path, item) },
    ...kind.cols.map((c, i) => el("td", { "data-col": c, text: texts[i] })));
  const actions = el("td", { class: "actions" });
  tr.append(actions);
  if (kind.path === "flows") {
    actions.append(el("a", { class: "button small-button", href: `/console/designer?flow=${encodeURIComponent(item.id)}`, text: "Open in designer" }));
    tr.classList.add("plain");
    return tr;
  }
  tr.addEventListener("click", () => go(`${kind.path}/${item.id}`));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") go(`${kind.path}/${item.id}`); });
  return tr;
}

async function showList(kind) {
  $("form-view").hidden = true;
  $("list-view").hidden = false;
  $("list-tools").hidden = false;
  $("screen").replaceChildren();
  $("screen").hidden = true;
  $("list-search").value = "";
  $("import-users").hidden = kind.path !== "users" || !can(kind.create);
  $("import-bot").hidden = kind.path !== "bots" || !can(kind.create);
  $("list-title").textContent = kind.label;
  $("list-error").textContent = "";
  $("create").hidden = kind.path === "flows" || !can(kind.create);
  $("create").textContent = kind.path === "prompts" ? "Upload prompt" : `Create`;
  $("new-flow").hidden = kind.path !== "flows" || !can(kind.create);
  const table = $("list-table");
  table.dataset.kind = kind.path;
  table.dataset.ready = "false";
  const head = el("tr");
  kind.cols.forEach((c, i) => {
    if (kind.serverPaged) {
      // Paged by the server in name order: a page sorted alone would mislead.
      head.append(el("th", { "data-col": c, text: labelFor(c) }));
      return;
    }
    const sort = el("button", { type: "button", class: "sort", text: labelFor(c) });
    sort.addEventListener("click", () => sortBy(i));
    head.append(el("th", { "data-col": c, "data-index": String(i), "aria-sort": "none" }, sort));
  });
  head.append(el("th", { text: "" }));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren();
  consoleState.lists.delete(kind.path);
  if (kind.serverPaged) {
    consoleState.view = { server: true, kind, cursors: [null], page: 0 };
    await serverPage();
    return;
  }
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
    const texts = [];
    for (const c of kind.cols) {
      texts.push(c === "registration"
        ? (item.register ? registrationText(registrations.get(item.name) || { state: "PENDING" }) : "—")
        : await cellText(kind, c, item[c]));
    }
    rows.push({ tr: listRow(kind, item, texts), texts });
  }
  if (consoleState.kind !== kind) return;
  consoleState.view = { rows, page: 0, sort: null };
  drawRows();
  $("list-empty").hidden = items.length > 0;
  table.dataset.ready = "true";
}

// ---------- the audit log: who changed what, newest first, paged by the server ----------

/** The list view set up for a screen of its own (no search, no Create): its table. */
function screenTable(title, kind) {
  $("form-view").hidden = true;
  $("list-view").hidden = false;
  for (const id of ["list-tools", "create", "new-flow", "import-users", "import-bot"]) $(id).hidden = true;
  $("list-title").textContent = title;
  $("list-error").textContent = "";
  const table = $("list-table");
  table.dataset.kind = kind;
  return table;
}

async function showAudit(older = false) {
  const table = screenTable("Audit log", "audit-log");
  $("list-empty").hidden = true;
  const screen = $("screen");
  if (!older) {
    table.dataset.ready = "false";
    const kindFilter = el("select", { id: "audit-kind", "aria-label": "Kind of object" },
      el("option", { value: "", text: "Every kind" }),
      ...["user", "security_profile", "queue", "routing_profile", "hours_of_operation", "flow", "phone_number",
        "prompt", "quick_connect", "sip_trunk", "external_function", "agent_status"].map((k) => el("option", { value: k, text: humanize(k) })));
    kindFilter.addEventListener("change", () => {
      consoleState.auditKind = kindFilter.value;
      showAudit();
    });
    const more = el("button", { type: "button", id: "audit-more", text: "Older entries" });
    more.addEventListener("click", () => showAudit(true));
    const keep = consoleState.auditKind || "";
    kindFilter.value = keep;
    screen.replaceChildren(el("label", {}, "Show ", kindFilter), more);
    screen.hidden = false;
    table.tHead.replaceChildren(el("tr", {}, ...["When", "Who", "Via", "Did", "Kind", "Object"].map((t) => el("th", { text: t }))));
    table.tBodies[0].replaceChildren();
    consoleState.auditBefore = null;
  }
  consoleState.auditKind = $("audit-kind").value;
  const params = new URLSearchParams({ limit: "50" });
  if (consoleState.auditKind) params.set("object_kind", consoleState.auditKind);
  if (older && consoleState.auditBefore) params.set("before", String(consoleState.auditBefore));
  // Only the newest request on this visit may write the table.
  const visit = consoleState.screen;
  const run = (consoleState.auditRuns = (consoleState.auditRuns || 0) + 1);
  try {
    const { items } = await api(`/audit-log?${params}`);
    if (consoleState.screen !== visit || consoleState.auditRuns !== run) return;
    for (const e of items) {
      table.tBodies[0].append(el("tr", { class: "plain", "data-seq": String(e.seq) },
        el("td", { text: new Date(e.at).toLocaleString() }), el("td", { text: e.actor_name }),
        el("td", { text: e.via }), el("td", { text: e.action.replace(/_/g, " ") }),
        el("td", { text: humanize(e.object_kind) }), el("td", { text: e.object_name || e.object_id })));
    }
    if (items.length) consoleState.auditBefore = items[items.length - 1].seq;
    $("audit-more").disabled = items.length < 50;
    $("list-empty").hidden = table.tBodies[0].children.length > 0;
  } catch (e) {
    if (e.status !== 401) $("list-error").textContent = e.message;
  }
  table.dataset.ready = "true";
}

// ---------- API keys: made (the key shown once), listed, revoked ----------

async function showApiKeys() {
  const table = screenTable("API keys", "api-keys");
  table.dataset.ready = "false";
  const name = el("input", { id: "key-name", placeholder: "What it is for, e.g. crm-sync", "aria-label": "Key name" });
  const make = el("button", { type: "submit", class: "primary", id: "key-create", text: "Make a key" });
  const shown = el("p", { id: "key-shown", class: "key-shown", role: "status" });
  const form = el("form", { class: "inline-form" }, name, make);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    $("list-error").textContent = "";
    try {
      const made = await api("/api-keys", { method: "POST", body: { name: name.value.trim() } });
      shown.replaceChildren(el("strong", { text: `Key “${made.name}”: ` }), el("code", { id: "key-secret", text: made.key }),
        el("span", { class: "muted small", text: " Copy it now: it is not stored and cannot be shown again." }));
      name.value = "";
      await listKeys();
    } catch (err) {
      if (err.status !== 401) $("list-error").textContent = plainReason(err.body?.errors?.[0]?.reason || err.message);
    }
  });
  $("screen").replaceChildren(form, shown);
  $("screen").hidden = false;
  table.tHead.replaceChildren(el("tr", {}, ...["Name", "Made", "Last used", ""].map((t) => el("th", { text: t }))));
  await listKeys();
  table.dataset.ready = "true";
}

async function listKeys() {
  const table = $("list-table");
  const visit = consoleState.screen;
  try {
    const { items } = await api("/api-keys");
    if (consoleState.screen !== visit) return;
    table.tBodies[0].replaceChildren(...items.map((k) => {
      const revoke = el("button", { type: "button", class: "danger small-button", text: "Revoke" });
      revoke.addEventListener("click", async () => {
        if (!window.confirm(`Revoke the key “${k.name}”? Whatever uses it stops working at once.`)) return;
        await api(`/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
        await listKeys();
      });
      return el("tr", { class: "plain", "data-name": k.name },
        el("td", { text: k.name }), el("td", { text: new Date(k.created_at).toLocaleString() }),
        el("td", { text: k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "never" }),
        el("td", { class: "actions" }, revoke));
    }));
    $("list-empty").hidden = items.length > 0;
  } catch (e) {
    if (e.status !== 401) $("list-error").textContent = e.message;
  }
}

// ---------- users from a CSV file (Connect's user template) ----------

/** Splits CSV text into rows of fields (quotes, doubled quotes, CRLF). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.some((f) => f.trim())) rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f.trim())) rows.push(row);
  return rows;
}

/** Which column of Connect's template a header names. */
function csvColumn(header) {
  const h = header.trim().toLowerCase();
  if (h.startsWith("first name")) return "first_name";
  if (h.startsWith("last name")) return "last_name";
  if (h.startsWith("email")) return "email";
  if (h.startsWith("password")) return "password";
  if (h.startsWith("user login") || h === "username" || h === "login") return "username";
  if (h.startsWith("routing profile")) return "routing_profile";
  if (h.startsWith("security_profile") || h.startsWith("security profile")) return "security_profiles";
  if (h.startsWith("phone type")) return "phone_type";
  if (h.startsWith("phone number")) return "phone_number";
  if (h.includes("auto accept")) return "auto_accept";
  if (h.startsWith("acw") || h.includes("after contact")) return "acw";
  return null;
}

/** A CSV row as the API's user, or why it is not one. */
function csvUser(cols, fields) {
  const v = (k) => { const i = cols.indexOf(k); return i < 0 ? "" : (fields[i] ?? "").trim(); };
  const type = v("phone_type").toLowerCase();
  const user = {
    username: v("username"),
    first_name: v("first_name"),
    last_name: v("last_name"),
    security_profiles: v("security_profiles").split("|").map((x) => x.trim()).filter(Boolean),
    routing_profile: v("routing_profile"),
    phone_config: {
      phone_type: type.startsWith("desk") ? "DESK_PHONE" : "SOFT_PHONE",
      auto_accept: ["yes", "true", "1"].includes(v("auto_accept").toLowerCase()),
      after_contact_work_timeout_seconds: Number(v("acw")) || 0,
    },
    password: v("password"),
  };
  if (v("email")) user.email = v("email");
  if (type.startsWith("desk") && v("phone_number")) user.phone_config.desk_phone_number = v("phone_number");
  return user;
}

async function importUsers(file) {
  const report = $("import-report");
  report.replaceChildren();
  const rows = parseCsv(await file.text());
  if (rows.length < 2) {
    report.append(el("p", { class: "error", text: "The file has no rows under its header." }));
    return;
  }
  const cols = rows[0].map(csvColumn);
  if (!cols.includes("username")) {
    report.append(el("p", { class: "error", text: "No “user login” column: use Connect's user template (first name, last name, email address, password, user login, routing profile name, security_profile_name_1|..., phone type, phone number, soft phone auto accept, ACW timeout)." }));
    return;
  }
  const table = el("table", { class: "grid", id: "import-results" },
    el("thead", {}, el("tr", {}, el("th", { text: "Row" }), el("th", { text: "User" }), el("th", { text: "Result" }))));
  const body = el("tbody");
  table.append(body);
  report.append(table);
  let made = 0;
  // One at a time: each row's result is its own, and the server's password hashing is bounded anyway.
  for (let i = 1; i < rows.length; i++) {
    const user = csvUser(cols, rows[i]);
    let result;
    let ok = false;
    try {
      await api("/users", { method: "POST", body: user });
      result = "Created";
      ok = true;
      made += 1;
    } catch (e) {
      if (e.status === 401) return;
      const errors = e.body?.errors || [];
      result = errors.length ? errors.map((x) => `${labelFor(x.field.split(/[.[]/)[0])}: ${plainReason(x.reason)}`).join("; ") : e.message;
    }
    body.append(el("tr", { class: ok ? "ok" : "failed", "data-row": String(i + 1) },
      el("td", { text: String(i + 1) }), el("td", { text: user.username || "—" }), el("td", { text: result })));
  }
  report.prepend(el("p", { id: "import-summary", text: `${made} of ${rows.length - 1} user(s) created.` }));
  consoleState.lists.delete("users");
}

/** Imports a Lex V2 export and shows what was taken and what was not. */
async function importBot(file) {
  const report = $("bot-report");
  report.replaceChildren(el("p", { class: "muted", text: "Importing…" }));
  try {
    const result = await api("/bots/import", { method: "POST", form: file, headers: { "content-type": "application/zip" } });
    const taken = el("ul", { id: "bot-mapped" }, ...result.report.mapped.map((m) => el("li", { text: m })));
    const left = el("ul", { id: "bot-unmapped" }, ...result.report.unmapped.map((m) => el("li", { text: m })));
    report.replaceChildren(
      el("p", { id: "bot-summary", text: `Bot ${result.bot.name} ${result.action}.` }),
      el("h3", { text: "Taken" }), taken,
      el("h3", { text: result.report.unmapped.length ? "Not taken (Switchboard does not use these)" : "Nothing was left out." }),
      ...(result.report.unmapped.length ? [left] : []),
    );
    consoleState.lists.delete("bots");
  } catch (e) {
    if (e.status === 401) return;
    const errors = e.body?.errors || [];
    report.replaceChildren(el("p", { class: "error", role: "alert",
      text: errors.length ? errors.map((x) => `${x.field}: ${plainReason(x.reason)}`).join("; ") : e.message }));
  }
}

/** A bot's Lex V2 export, downloaded. */
async function exportBot(record) {
  try {
    const response = await api(`/bots/${encodeURIComponent(record.id)}/export`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const a = el("a", { href: url, download: `${record.name}-DRAFT-LexJson.zip` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    if (e.status !== 401) $("form-status").textContent = `The export failed: ${e.message}`;
  }
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

/** A labelled field with its error slot; the API's name for it in a hint. */
function field(label, path, input, help, required) {
  const wrap = el("div", { class: "field", "data-field-path": path });
  const title = el("span", { class: "field-label", text: label });
  if (required) title.append(el("span", { class: "required", text: " *", "aria-hidden": "true" }));
  const apiName = path.split(/[.[]/).pop().replace(/]$/, "");
  if (apiName && !/^\d+$/.test(apiName)) title.append(el("code", { class: "api-name", text: apiName, title: "The API's name for this field" }));
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

  // An optional object (`Option<T>`: null or T): a box to tick, then its fields.
  const some = s.oneOf?.filter((v) => !typesOf(v).includes("null") || typesOf(v).length > 1);
  if (s.oneOf && some.length === 1 && some.length < s.oneOf.length) return buildOptional(some[0], path, value, ctx, name);
  if (s.oneOf) return buildOneOf(s, path, value, ctx);

  if (ctx.schemaName === "HoursOfOperation" && path === "config") return buildWeek(value || []);
  if (name === "permissions" && baseType(s) === "array") return buildPermissionMatrix(path, value || []);

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
  if (name === "time_zone") {
    // IANA names, searchable as one types.
    input.setAttribute("list", "time-zones");
    input.placeholder = "Start typing a city, e.g. London";
    if (!value && !ctx.editing) input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }
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
  const order = Object.entries(s.properties).sort(
    ([a], [b]) => fieldRank(a) - fieldRank(b) || a.localeCompare(b),
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
      const legend = el("legend", { text: labelFor(name) });
      if (required.has(name)) legend.append(el("span", { class: "required", text: " *" }));
      fs.append(legend);
      if (help) fs.append(el("p", { class: "help muted small", text: help.split("\n").join(" ") }));
      fs.append(el("span", { class: "field-error", "data-error-for": sub, role: "alert" }));
      fs.append(control.node);
      box.append(fs);
    } else {
      box.append(field(labelFor(name), sub, control.node, help, required.has(name)));
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

/** An object that may be absent: ticked, its fields show; unticked, it is null. */
async function buildOptional(inner, path, value, ctx, name) {
  const on = el("input", { type: "checkbox", "data-path": join(path, "present"), "aria-label": `Use ${humanize(name).toLowerCase()}` });
  on.checked = value !== undefined && value !== null;
  const holder = el("div");
  const box = el("div", { class: "object nested optional" },
    el("label", { class: "check" }, on, ` Use ${humanize(name).toLowerCase()}`), holder);
  let current = null;
  const render = async () => {
    current = on.checked ? await buildControl(inner, path, value ?? {}, ctx) : null;
    holder.replaceChildren(...(current ? [current.node] : []));
  };
  on.addEventListener("change", render);
  await render();
  return { node: box, get: () => (current ? current.get() : null) };
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
        // A row of a plain list has no label of its own: name it by list and place.
        if (["INPUT", "SELECT", "TEXTAREA"].includes(control.node.tagName)) {
          control.node.setAttribute("aria-label", `${humanize(name).replace(/ies$/, "y").replace(/s$/, "")} ${i + 1}`);
        }
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

// ---------- task-shaped controls ----------

const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const pad2 = (n) => String(n).padStart(2, "0");
const timeText = (t) => `${pad2(t?.hours ?? 0)}:${pad2(t?.minutes ?? 0)}`;
const timeValue = (text) => {
  const [h, m] = String(text || "00:00").split(":").map(Number);
  return { hours: h || 0, minutes: m || 0 };
};

/** The weekly hours as a grid: a row per day, open or closed, with its periods. */
function buildWeek(value) {
  const box = el("div", { class: "week", "data-path": "config" });
  const days = new Map(DAYS.map((d) => [d, []]));
  for (const r of value) days.get(r.day)?.push(r);
  const rows = [];
  const periodRow = (day, range, list) => {
    const start = el("input", { type: "time", value: timeText(range?.start ?? { hours: 9 }), "aria-label": `${humanize(day.toLowerCase())} opens` });
    const end = el("input", { type: "time", value: timeText(range?.end ?? { hours: 17 }), "aria-label": `${humanize(day.toLowerCase())} closes` });
    const remove = el("button", { type: "button", class: "ghost", text: "✕", "aria-label": "Remove this period" });
    const error = el("span", { class: "field-error", role: "alert" });
    const row = el("div", { class: "period" }, start, el("span", { text: "to" }), end, remove, error);
    const period = { day, start, end, error, row };
    remove.addEventListener("click", () => {
      list.splice(list.indexOf(period), 1);
      row.remove();
    });
    return period;
  };
  for (const day of DAYS) {
    const open = el("input", { type: "checkbox", "data-day": day });
    const periods = el("div", { class: "periods" });
    const list = [];
    const add = el("button", { type: "button", class: "small-button", text: "Add period" });
    const addPeriod = (range) => {
      const p = periodRow(day, range, list);
      list.push(p);
      periods.append(p.row);
    };
    add.addEventListener("click", () => addPeriod(null));
    open.addEventListener("change", () => {
      if (open.checked && !list.length) addPeriod(null);
      periods.hidden = add.hidden = !open.checked;
    });
    for (const r of days.get(day)) addPeriod(r);
    open.checked = list.length > 0;
    periods.hidden = add.hidden = !open.checked;
    rows.push({ day, open, list });
    box.append(el("div", { class: "day-row", "data-day": day },
      el("label", { class: "check day-name" }, open, el("span", { text: humanize(day.toLowerCase()) })),
      periods, add));
  }
  box.append(el("p", { class: "help muted small", text: "A period that ends at or before it starts runs past midnight; the same start and end is open all day." }));
  return {
    node: box,
    get() {
      // The API names errors config[i]: each period's slot takes its index.
      const out = [];
      for (const { open, list } of rows) {
        if (!open.checked) continue;
        for (const p of list) {
          p.error.dataset.errorFor = `config[${out.length}]`;
          out.push({ day: p.day, start: timeValue(p.start.value), end: timeValue(p.end.value) });
        }
      }
      return out;
    },
  };
}

/** Permissions as Connect groups them: a row per resource, a column per action. */
async function buildPermissionMatrix(path, value) {
  const all = await permissionList();
  const box = el("div", { class: "permission-matrix", "data-path": path });
  const inputs = [];
  const groups = new Map();
  for (const p of all) {
    const [resource, action] = p.name.includes(".") ? p.name.split(".", 2) : ["General", p.name];
    if (!groups.has(resource)) groups.set(resource, []);
    groups.get(resource).push({ ...p, action });
  }
  const columns = ["View", "Create", "Edit", "Delete"];
  const table = el("table", { class: "grid matrix" });
  table.append(el("thead", {}, el("tr", {}, el("th", { text: "Resource" }),
    ...columns.map((c) => el("th", { text: c })), el("th", { text: "Also" }))));
  const body = el("tbody");
  const checkbox = (p, resource) => {
    const input = el("input", { type: "checkbox", value: p.name, "data-label": p.name,
      "aria-label": `${humanize(resource.replace(/([a-z])([A-Z])/g, "$1 $2"))}: ${p.action}`, title: p.description || p.name });
    input.checked = value.includes(p.name);
    inputs.push(input);
    return input;
  };
  for (const [resource, perms] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const row = el("tr", { "data-resource": resource }, el("th", { scope: "row", text: resource.replace(/([a-z])([A-Z])/g, "$1 $2") }));
    for (const c of columns) {
      const p = perms.find((x) => x.action === c);
      row.append(el("td", {}, p ? checkbox(p, resource) : ""));
    }
    const others = perms.filter((x) => !columns.includes(x.action));
    row.append(el("td", { class: "also" }, ...others.map((p) =>
      el("label", { class: "check" }, checkbox(p, resource), el("span", { text: p.action.replace(/([a-z])([A-Z])/g, "$1 $2") })))));
    body.append(row);
  }
  table.append(body);
  box.append(el("div", { class: "scroll", tabindex: "0", "aria-label": "Permissions" }, table));
  return { node: box, get: () => inputs.filter((i) => i.checked).map((i) => i.value) };
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

/** An API reason in plain words. */
function plainReason(reason) {
  const text = String(reason || "");
  let m = /^no ([\w -]+) with id or name ''$/.exec(text);
  if (m) return `Choose a ${m[1].replace(/_/g, " ")}.`;
  m = /^no ([\w -]+) with id or name '(.+)'$/.exec(text);
  if (m) return `There is no ${m[1].replace(/_/g, " ")} called '${m[2]}'.`;
  if (/^missing field/.test(text) || text === "required" || text === "must not be empty") return "Fill this in.";
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Puts each error under the input its path names (or its closest ancestor), in plain words; a summary on top. */
function showErrors(failure) {
  const errors = (failure.body?.errors || []).map((e) => ({ ...e, reason: plainReason(e.reason) }));
  const plain = errors.length
    ? { message: errors.length === 1 ? "One thing to fix, marked below." : `${errors.length} things to fix, marked below.`,
      body: { ...failure.body, message: "x", errors } }
    : failure;
  showFieldErrors($("object-form"), plain, $("form-error"));
  // Errors that found no field name it in words.
  for (const span of $("form-error").querySelectorAll("span.block")) {
    span.textContent = span.textContent.replace(/^([a-z_]+)(\[\d+\])?(\.[a-z_.[\]0-9]+)?: /, (all, name) => `${labelFor(name)}: `);
  }
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
  if (kind.path === "bots" && editing) {
    const exportButton = el("button", { type: "button", id: "export-bot", text: "Export as Lex V2 (.zip)" });
    exportButton.addEventListener("click", () => exportBot(record));
    $("extra").append(el("fieldset", { class: "group" }, el("legend", { text: "Lex V2" }), exportButton));
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
$("list-search").addEventListener("input", searchChanged);
$("prev-page").addEventListener("click", () => turnPage(-1));
$("next-page").addEventListener("click", () => turnPage(1));
$("import-users").addEventListener("click", () => { $("import-report").replaceChildren(); $("import-file").value = ""; $("import-dialog").showModal(); });
$("import-close").addEventListener("click", () => { $("import-dialog").close(); if (consoleState.kind?.path === "users") showList(consoleState.kind); });
$("import-file").addEventListener("change", () => { const f = $("import-file").files[0]; if (f) importUsers(f); });
$("import-bot").addEventListener("click", () => { $("bot-report").replaceChildren(); $("bot-file").value = ""; $("bot-dialog").showModal(); });
$("bot-close").addEventListener("click", () => { $("bot-dialog").close(); if (consoleState.kind?.path === "bots") showList(consoleState.kind); });
$("bot-file").addEventListener("change", () => { const f = $("bot-file").files[0]; if (f) importBot(f); });
// IANA time zones for the hours' picker.
$("time-zones").replaceChildren(...["UTC", ...(Intl.supportedValuesOf?.("timeZone") || [])].map((z) => el("option", { value: z })));
window.addEventListener("hashchange", route);
start();
