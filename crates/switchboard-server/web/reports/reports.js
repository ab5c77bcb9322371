// Switchboard reports for supervisors: live (pushed over a WebSocket),
// historical metrics with a chart, usage and its cost, and contact records
// with their recordings and transcripts.
//
// Everything the server sends is drawn with textContent: a customer's name
// or a chat message is never parsed as HTML. Files the API only gives to a
// signed-in caller (CSV, recordings) are fetched with the bearer token and
// handed to the browser as Blob URLs.

import uPlot from "/vendor/uplot/uPlot.esm.js";

import {
  $,
  API,
  ApiFailure,
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

const PERMISSION = {
  live: "AccessMetrics.RealTimeMetrics.Access",
  historical: "AccessMetrics.HistoricalMetrics.Access",
  usage: "AccessMetrics.HistoricalMetrics.Access",
  contacts: "ContactSearch.View",
};
const TABS = ["live", "historical", "usage", "contacts"];

const STATE_LABELS = {
  Available: "Available",
  Offline: "Offline",
  Incoming: "Incoming contact",
  OnContact: "On contact",
  AfterContactWork: "After contact work",
  Missed: "Missed contact",
  Rejected: "Rejected contact",
  Error: "Error",
};

const CHANNEL_LABELS = { VOICE: "Voice", CHAT: "Chat", TASK: "Task" };
/** Connect's codes in a contact record, in words (the code stays in a tooltip). */
const CODE_LABELS = {
  INBOUND: "Inbound",
  OUTBOUND: "Outbound",
  TRANSFER: "Transfer",
  API: "API",
  CUSTOMER_DISCONNECT: "Customer hung up",
  AGENT_DISCONNECT: "Agent hung up",
  THIRD_PARTY_DISCONNECT: "Third party hung up",
  CONTACT_FLOW_DISCONNECT: "Ended by the flow",
  TELECOM_PROBLEM: "Call lost (network)",
  SYSTEM_ERROR: "System error",
  CUSTOMER_IDLE: "Customer idle",
  EXPIRED: "Chat expired",
  TRANSFERRED: "Transferred",
  OUTBOUND_ATTEMPT_FAILED: "Not answered",
  OUTBOUND_DESTINATION_ENDPOINT_ERROR: "Number refused the call",
  OTHER: "Other",
  IN_FLOW: "In a flow",
  QUEUED: "Queued",
  CONNECTED: "With an agent",
  ENDED: "Ended",
  ...CHANNEL_LABELS,
};

/** A cell showing `code` in words, the code itself in its tooltip. */
function codeCell(code) {
  if (!code) return el("td", { text: "—" });
  return el("td", { text: CODE_LABELS[code] || code, title: code });
}

/** `code` in words, the code after it in brackets (for the detail list). */
const inWords = (code) => (code && CODE_LABELS[code] ? `${CODE_LABELS[code]} (${code})` : code);

/** The colour bucket of an agent state (the server's buckets; custom statuses are non-productive). */
function bucketOf(state) {
  switch (state) {
    case "Available": return "available";
    case "Offline": return "offline";
    case "Incoming": return "incoming";
    case "OnContact": return "on_contact";
    case "AfterContactWork": return "after_contact_work";
    case "Missed": case "Rejected": case "Error": return "error";
    default: return "non_productive";
  }
}

const reports = {
  me: null,
  tab: null,
  opened: new Set(),
  live: { socket: null, retry: 0, timer: null, refused: false, snapshot: null, receivedAt: 0, skew: 0 },
  runs: { historical: 0, usage: 0, contacts: 0, contact: 0 },
  chart: null,
  contactsNext: null,
  recordingUrl: null,
};
window.reports = reports; // for the browser tests and for curious supervisors

// ---------- helpers ----------

/** Whole seconds as 0:45, 2:30 or 1:02:03; "—" when absent. */
function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const percent = (p) => (p === null || p === undefined ? "—" : `${numberFormat.format(p)}%`);
const count = (n) => (n === null || n === undefined ? "—" : new Intl.NumberFormat().format(n));
const minutes = (m) => new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(m);

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: 4,
    }).format(amount);
  } catch {
    return `${amount.toFixed(4)} ${currency}`;
  }
}

function when(iso, withDate = true) {
  if (!iso) return "—";
  const d = new Date(iso);
  return withDate
    ? d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
    : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** `<input type=datetime-local>` value for a Date, in the browser's time zone. */
function localInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (the browser's time zone) as RFC 3339 in UTC. */
function fromLocalInput(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// ---------- the API ----------

const query = (params) =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();

/** Clears a form's error slots. */
/** The line under a form for what is not beside a field. */
const generalOf = (form) => form.querySelector(".form-error");

function clearErrors(form) {
  clearFieldErrors(form, generalOf(form));
}

/** Shows a failure next to the fields it names; the rest under the form. */
function showErrors(form, failure) {
  showFieldErrors(form, failure, generalOf(form));
}

/** Downloads `path` with the bearer token and saves it as `fallback` (or the server's file name). */
async function download(path, fallback, form) {
  generalOf(form).textContent = "";
  try {
    const response = await api(path, { raw: true });
    const disposition = response.headers.get("content-disposition") || "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallback;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    if (e.status !== 401) showErrors(form, e);
  }
}

// ---------- sign in ----------

async function signOut() {
  const ended = session.signOut();
  signedOut("");
  await ended;
}

/** Back to the sign-in form, with `message`. */
function signedOut(message) {
  session.forget();
  stopLive();
  reports.me = null;
  reports.opened.clear();
  showSignIn(message);
}

const allowed = (tab) => reports.me?.permissions.includes(PERMISSION[tab]);

async function start() {
  if (!token()) return signedOut("");
  try {
    reports.me = await api("/me");
  } catch (e) {
    if (e.status !== 401) signedOut(e.message);
    return;
  }
  const user = reports.me.user || {};
  $("user-name").textContent = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || "";
  for (const tab of TABS) $(`tab-${tab}`).hidden = !allowed(tab);
  $("login").hidden = true;
  $("workspace").hidden = false;
  const first = TABS.filter(allowed);
  $("no-access").hidden = first.length > 0;
  if (allowed("live")) {
    connectLive();
    loadThresholds();
  }
  const wanted = location.hash.slice(1);
  if (first.length) show(first.includes(wanted) ? wanted : first[0]);
}

// ---------- tabs ----------

function show(tab) {
  reports.tab = tab;
  for (const t of TABS) {
    $(`tab-${t}`).setAttribute("aria-selected", String(t === tab));
    $(`panel-${t}`).hidden = t !== tab;
  }
  if (location.hash !== `#${tab}`) history.replaceState(null, "", `#${tab}`);
  if (!reports.opened.has(tab)) {
    reports.opened.add(tab);
    if (tab === "historical") runHistorical();
    if (tab === "usage") runUsage();
    if (tab === "contacts") {
      runContacts();
      loadContactChoices();
    }
  }
  if (tab === "historical" && reports.chart) sizeChart();
}

// ---------- live ----------

function connectLive() {
  const live = reports.live;
  clearTimeout(live.timer);
  live.refused = false;
  const old = live.socket;
  live.socket = null;
  old?.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${API}/reports/realtime/ws`);
  live.socket = socket;
  setConnection("connecting", "Connecting…");
  socket.onopen = () => socket.send(JSON.stringify({ type: "hello", token: token() }));
  socket.onmessage = (m) => {
    let message;
    try {
      message = JSON.parse(m.data);
    } catch {
      return;
    }
    if (message.type === "snapshot") {
      live.retry = 0;
      $("live-error").textContent = "";
      setConnection("live", "Live");
      drawSnapshot(message.snapshot);
    } else if (message.type === "error") {
      live.refused = true;
      setConnection("refused", "Not connected");
      $("live-error").textContent = message.message;
      socket.close();
      // An ended session shows as a 401 here too, and signs out.
      api("/me").catch(() => {});
    }
  };
  socket.onclose = () => {
    if (live.socket !== socket) return;
    live.socket = null;
    if (live.refused || !token()) return;
    const wait = Math.min(30000, 1000 * 2 ** live.retry++) * (0.8 + Math.random() * 0.4);
    live.reconnectAt = Date.now() + wait;
    setConnection("reconnecting", `Reconnecting in ${Math.ceil(wait / 1000)} s…`);
    live.timer = setTimeout(connectLive, wait);
  };
}

function stopLive() {
  const live = reports.live;
  clearTimeout(live.timer);
  const socket = live.socket;
  live.socket = null;
  socket?.close();
}

function setConnection(state, text) {
  $("live-connection").dataset.state = state;
  $("live-connection").textContent = text;
}

/** Server time now, from the last snapshot's clock. */
const serverNow = () => Date.now() + reports.live.skew;

function drawSnapshot(s) {
  const live = reports.live;
  live.snapshot = s;
  live.receivedAt = Date.now();
  live.skew = new Date(s.at).getTime() - Date.now();
  $("live-at").textContent = `updated ${when(s.at, false)}`;
  for (const tile of document.querySelectorAll("#agent-tiles .tile")) {
    const metric = tile.dataset.metric;
    const value = tile.querySelector(".value");
    if (metric === "contacts_in_queue") value.textContent = count(s.contacts_in_queue);
    else if (metric === "oldest_contact_age") value.dataset.age = s.oldest_contact_age_seconds ?? "";
    else value.textContent = count(s.agents[metric]);
  }

  // One row per queue: the router reports each queue on every channel.
  const byQueue = new Map();
  for (const q of s.queues) {
    const row = byQueue.get(q.queue) || { name: q.name, waiting: 0, channels: [], oldest: null };
    row.waiting += q.in_queue;
    if (q.in_queue) row.channels.push(`${CHANNEL_LABELS[q.channel] || q.channel} ${count(q.in_queue)}`);
    if (q.oldest_contact_age_seconds !== null && q.oldest_contact_age_seconds !== undefined) {
      row.oldest = Math.max(row.oldest ?? 0, q.oldest_contact_age_seconds);
    }
    byQueue.set(q.queue, row);
  }
  // The agents who take from each queue (those of every routing profile serving it).
  const queueAgents = new Map((s.by_queue || []).map((q) => [q.queue, q.agents]));
  const queues = $("queue-table").tBodies[0];
  queues.replaceChildren(
    ...[...byQueue].map(([id, q]) =>
      el("tr", { "data-queue": id, "data-name": q.name, "data-waiting": q.waiting ? "true" : "false" },
        el("td", { text: q.name }),
        el("td", { class: "num", "data-value": String(q.waiting), text: count(q.waiting) }),
        el("td", { text: q.channels.join(" · ") || "—" }),
        el("td", { class: "num age", "data-age": q.oldest ?? "" }),
        el("td", { class: "num", "data-col": "staffed", "data-value": String(queueAgents.get(id)?.staffed ?? 0), text: count(queueAgents.get(id)?.staffed ?? 0) }),
        el("td", { class: "num", "data-col": "available", text: count(queueAgents.get(id)?.available ?? 0) }),
        el("td", { class: "num", "data-col": "service_level" }),
        el("td", { class: "attention", "data-col": "attention" })),
    ),
  );
  attention();
  $("queue-empty").hidden = s.contacts_in_queue > 0;

  const profiles = $("profile-table").tBodies[0];
  profiles.replaceChildren(
    ...s.by_routing_profile.map((p) =>
      el("tr", { "data-profile": p.routing_profile, "data-name": p.name },
        el("td", { text: p.name }),
        ...["online", "available", "on_contact", "after_contact_work", "non_productive", "error"].map((k) =>
          el("td", { class: "num", "data-col": k, text: count(p.agents[k]) })),
        el("td", { class: "num", "data-col": "in_queue", text: count(p.in_queue) }),
        el("td", { class: "num age", "data-age": p.oldest_contact_age_seconds ?? "" })),
    ),
  );
  drawBoard();
  tick();
}

function drawBoard() {
  const s = reports.live.snapshot;
  if (!s) return;
  const hideOffline = $("hide-offline").checked;
  const board = $("board").tBodies[0];
  board.replaceChildren(
    ...s.board
      .filter((a) => !(hideOffline && a.state === "Offline"))
      .map((a) =>
        el("tr", { "data-agent": a.agent, "data-name": a.name, "data-state": a.state },
          el("td", { class: "name", text: a.name }),
          el("td", { class: "profile", text: a.routing_profile }),
          el("td", {}, el("span", { class: "badge state", "data-bucket": bucketOf(a.state), text: STATE_LABELS[a.state] || a.state })),
          el("td", { class: "num timer", "data-since": a.since ?? "" })),
      ),
  );
}

// ---------- thresholds: when a queue needs attention ----------

/** Marks each queue past its limits, with the reasons in words (not colour alone). */
function attention() {
  const live = reports.live;
  const since = live.receivedAt ? (Date.now() - live.receivedAt) / 1000 : 0;
  for (const row of document.querySelectorAll("#queue-table tbody tr")) {
    const id = row.dataset.queue;
    const t = reports.thresholds?.queues?.[id] || {};
    // The figures as numbers, not read back from text in the reader's locale.
    const waiting = Number(row.cells[1].dataset.value) || 0;
    const ageCell = row.querySelector(".age");
    const age = ageCell.dataset.age === "" ? null : Number(ageCell.dataset.age) + since;
    const staffed = Number(row.querySelector('[data-col="staffed"]').dataset.value) || 0;
    const sl = reports.serviceLevels?.get(id);
    const slCell = row.querySelector('[data-col="service_level"]');
    slCell.textContent = sl === undefined || sl === null ? "—" : percent(sl);
    const reasons = [];
    const mark = (cell, on) => (on ? cell.setAttribute("data-alert", "true") : cell.removeAttribute("data-alert"));
    const tooMany = t.waiting && waiting >= t.waiting;
    if (tooMany) reasons.push(`${count(waiting)} waiting (limit ${count(t.waiting)})`);
    mark(row.cells[1], tooMany);
    const tooOld = t.oldest_seconds && age !== null && age >= t.oldest_seconds;
    if (tooOld) reasons.push(`oldest ${duration(age)} (limit ${duration(t.oldest_seconds)})`);
    mark(ageCell, tooOld);
    // Contacts waiting with nobody able to take them: always worth a look.
    const unstaffed = waiting > 0 && staffed === 0;
    if (unstaffed) reasons.push("nobody staffed");
    mark(row.querySelector('[data-col="staffed"]'), unstaffed);
    const lowSl = t.service_level_percent !== undefined && sl !== undefined && sl !== null && sl < t.service_level_percent;
    if (lowSl) reasons.push(`service level ${percent(sl)} (target ${percent(t.service_level_percent)})`);
    mark(slCell, lowSl);
    row.querySelector('[data-col="attention"]').textContent = reasons.join("; ");
    row.dataset.attention = reasons.length ? "true" : "false";
  }
}

async function loadThresholds() {
  try {
    reports.thresholds = await api("/me/report-thresholds");
  } catch {
    reports.thresholds = { queues: {} };
  }
  await loadServiceLevels();
  attention();
}

/** Today's service level per queue, for the queues whose threshold sets one (every minute). */
async function loadServiceLevels() {
  const wanted = Object.values(reports.thresholds?.queues || {}).map((t) => t.service_level_seconds).filter(Boolean);
  reports.serviceLevels = new Map();
  if (!wanted.length || !reports.me?.permissions.includes(PERMISSION.historical)) return;
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  const to = new Date(Date.now() + 60000);
  try {
    const report = await api(`/reports/historical?${query({ from: from.toISOString(), to: to.toISOString(),
      interval: "total", group_by: "queue", service_levels: [...new Set(wanted)].join(",") })}`);
    for (const r of report.rows) {
      const t = reports.thresholds.queues[r.group];
      if (t?.service_level_seconds) reports.serviceLevels.set(r.group, r.service_level[t.service_level_seconds] ?? null);
    }
  } catch {
    // No figure this minute; the next try may have one.
  }
}

function openThresholds() {
  const body = $("thresholds-table").tBodies[0];
  const queues = [...document.querySelectorAll("#queue-table tbody tr")].map((r) => [r.dataset.queue, r.dataset.name]);
  const input = (id, key, value, label, attrs) => el("input", { type: "number", "data-queue": id, "data-key": key,
    value: value ?? "", "aria-label": label, ...attrs });
  body.replaceChildren(...queues.map(([id, name]) => {
    const t = reports.thresholds?.queues?.[id] || {};
    return el("tr", { "data-queue": id },
      el("th", { scope: "row", text: name }),
      el("td", {}, input(id, "waiting", t.waiting, `${name}: waiting at least`, { min: "1", max: "100000" })),
      el("td", {}, input(id, "oldest_seconds", t.oldest_seconds, `${name}: oldest at least, seconds`, { min: "1", max: "604800" })),
      el("td", {}, input(id, "service_level_percent", t.service_level_percent, `${name}: service level below, percent`, { min: "0", max: "100", step: "any" })),
      el("td", {}, input(id, "service_level_seconds", t.service_level_seconds, `${name}: answered within, seconds`, { min: "1", max: "3600" })));
  }));
  clearErrors($("thresholds-form"));
  $("thresholds-dialog").showModal();
}

async function saveThresholds(event) {
  event.preventDefault();
  const form = $("thresholds-form");
  clearErrors(form);
  // The queues listed here are replaced; any other's thresholds (a queue
  // not on the live view now) are kept.
  const queues = { ...(reports.thresholds?.queues || {}) };
  for (const row of form.querySelectorAll("tr[data-queue]")) delete queues[row.dataset.queue];
  for (const input of form.querySelectorAll("input[data-queue]")) {
    if (input.value.trim() === "") continue;
    (queues[input.dataset.queue] ||= {})[input.dataset.key] = Number(input.value);
  }
  try {
    reports.thresholds = await api("/me/report-thresholds", { method: "PUT", body: { queues } });
    $("thresholds-dialog").close();
    await loadServiceLevels();
    attention();
  } catch (e) {
    if (e.status !== 401) showErrors(form, e);
  }
}

/** Once a second: every clock on the Live tab moves on. */
function tick() {
  const live = reports.live;
  if (!live.snapshot) return;
  const now = serverNow();
  const since = (Date.now() - live.receivedAt) / 1000;
  for (const cell of document.querySelectorAll("#board .timer")) {
    const from = cell.dataset.since;
    cell.textContent = from ? duration((now - new Date(from).getTime()) / 1000) : "—";
  }
  for (const cell of document.querySelectorAll("#panel-live [data-age]")) {
    const age = cell.dataset.age;
    cell.textContent = age === "" ? "—" : duration(Number(age) + since);
  }
  attention();
  if (live.socket === null && !live.refused && live.reconnectAt) {
    const left = Math.max(0, Math.ceil((live.reconnectAt - Date.now()) / 1000));
    setConnection("reconnecting", `Reconnecting in ${left} s…`);
  }
  // The server pushes every 5 s: a socket silent for 15 s is dead.
  if (live.socket?.readyState === WebSocket.OPEN && Date.now() - live.receivedAt > 15000) live.socket.close();
}

// ---------- historical ----------

function historicalParams() {
  const form = $("hist-form");
  const errors = [];
  const from = fromLocalInput($("hist-from").value);
  const to = fromLocalInput($("hist-to").value);
  if (!from) errors.push({ field: "from", reason: "is required" });
  if (!to) errors.push({ field: "to", reason: "is required" });
  if (errors.length) {
    showErrors(form, new ApiFailure(400, { errors }));
    return null;
  }
  return {
    from,
    to,
    interval: $("hist-interval").value,
    group_by: $("hist-group").value,
    service_levels: $("hist-levels").value.replace(/\s+/g, ""),
  };
}

async function runHistorical(event) {
  event?.preventDefault();
  const form = $("hist-form");
  clearErrors(form);
  const params = historicalParams();
  if (!params) return;
  const run = ++reports.runs.historical;
  $("hist-run").disabled = true;
  try {
    const report = await api(`/reports/historical?${query(params)}`);
    if (run !== reports.runs.historical) return;
    reports.historical = { params, report };
    drawHistorical(report);
    $("hist-csv").disabled = false;
  } catch (e) {
    if (run === reports.runs.historical && e.status !== 401) showErrors(form, e);
  } finally {
    if (run === reports.runs.historical) $("hist-run").disabled = false;
  }
}

function drawHistorical(report) {
  const rows = report.rows;
  const levels = [...new Set(rows.flatMap((r) => Object.keys(r.service_level)))].sort((a, b) => a - b);
  const agents = rows.some((r) => r.occupancy !== null && r.occupancy !== undefined);
  const dayOnly = report.interval === "day";
  const columns = [
    ["Interval", (r) => (report.interval === "total" ? "Whole period" : dayOnly ? new Date(r.interval_start).toLocaleDateString() : when(r.interval_start)), "interval", false, "nowrap"],
    [groupLabel(report.group_by), (r) => r.group_name, "group"],
    ["Queued", (r) => count(r.contacts_queued), "queued", true],
    ["Handled", (r) => count(r.contacts_handled), "handled", true],
    ["Abandoned", (r) => count(r.contacts_abandoned), "abandoned", true],
    ["Transferred out", (r) => count(r.contacts_transferred_out), "transferred-out", true],
    ["Avg handle time", (r) => duration(r.average_handle_time), "aht", true],
    ["Avg talk", (r) => duration(r.average_talk_time), "talk", true],
    ["Avg hold", (r) => duration(r.average_hold_time), "hold", true],
    ["Avg ACW", (r) => duration(r.average_after_contact_work_time), "acw", true],
    ["Avg speed of answer", (r) => duration(r.average_speed_of_answer), "asa", true],
    ["Avg abandon time", (r) => duration(r.average_abandon_time), "abandon-time", true],
    ...levels.map((l) => [`Service level ${l} s`, (r) => percent(r.service_level[l]), `sl-${l}`, true]),
  ];
  if (agents) {
    columns.push(
      ["Occupancy", (r) => percent(r.occupancy), "occupancy", true],
      ["Non-productive", (r) => duration(r.non_productive_time), "non-productive", true],
      ["Time in state", (r) => Object.entries(r.time_in_state).map(([s, t]) => `${STATE_LABELS[s] || s} ${duration(t)}`).join(" · ") || "—", "states"],
    );
  }
  const table = $("hist-table");
  table.tHead.replaceChildren(el("tr", {}, ...columns.map(([title, , , num]) => el("th", { class: num ? "num" : null, text: title }))));
  table.tBodies[0].replaceChildren(
    ...rows.map((r) =>
      el("tr", { "data-group": r.group, "data-interval": r.interval_start },
        ...columns.map(([, value, key, num, extra]) => el("td", { class: num ? "num" : extra, "data-col": key, text: value(r) }))),
    ),
  );
  $("hist-summary").textContent = `${rows.length} row${rows.length === 1 ? "" : "s"} · ${when(report.from)} to ${when(report.to)}`;
  $("hist-empty").hidden = rows.length > 0;
  $("hist-results").hidden = false;
  drawChart(report);
}

const groupLabel = (g) => ({ queue: "Queue", agent: "Agent", routing_profile: "Routing profile", channel: "Channel" })[g] || g;

const INTERVAL_SECONDS = { fifteen_minutes: 900, hour: 3600, day: 86400 };

/** Handled and abandoned contacts per interval (all groups) as bars, and the average handle time. */
function drawChart(report) {
  const by = new Map();
  for (const r of report.rows) {
    const t = new Date(r.interval_start).getTime() / 1000;
    const a = by.get(t) || { handled: 0, abandoned: 0, handle: 0, timed: 0 };
    a.handled += r.contacts_handled;
    a.abandoned += r.contacts_abandoned;
    if (r.average_handle_time !== null && r.average_handle_time !== undefined) {
      a.handle += r.average_handle_time * r.contacts_handled;
      a.timed += r.contacts_handled;
    }
    by.set(t, a);
  }
  const xs = [...by.keys()].sort((a, b) => a - b);
  reports.chart?.destroy();
  reports.chart = null;
  const holder = $("hist-chart");
  holder.replaceChildren();
  const note = $("hist-chart-note");
  holder.hidden = xs.length === 0;
  note.hidden = xs.length > 0;
  note.textContent = "Nothing to chart in this period.";
  if (!xs.length) return;
  // Each interval's bars stand in the middle of its own span.
  const step = INTERVAL_SECONDS[report.interval] ?? (new Date(report.to) - new Date(report.from)) / 1000;
  const data = [
    xs.map((x) => x + step / 2),
    xs.map((x) => by.get(x).handled),
    xs.map((x) => by.get(x).abandoned),
    xs.map((x) => (by.get(x).timed ? by.get(x).handle / by.get(x).timed : null)),
  ];
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue(name).trim();
  const bars = (align) => uPlot.paths.bars({ size: [0.3, 48], align, gap: 2 });
  const options = {
    width: Math.max(320, holder.clientWidth),
    height: 300,
    scales: {
      x: { time: true, range: () => [xs[0], xs[xs.length - 1] + step] },
      n: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
      s: { range: (u, min, max) => [0, Math.max(60, max * 1.15)] },
    },
    series: [
      { label: "Interval from", value: (u, v) => (v === null ? "—" : when(new Date((v - step / 2) * 1000).toISOString())) },
      { label: "Handled", scale: "n", stroke: colour("--available"), fill: "rgba(20, 128, 74, 0.55)", width: 1, paths: bars(-1), points: { show: false } },
      { label: "Abandoned", scale: "n", stroke: colour("--error"), fill: "rgba(185, 28, 28, 0.55)", width: 1, paths: bars(1), points: { show: false } },
      { label: "Avg handle time", scale: "s", stroke: colour("--brand"), width: 2, points: { show: true, size: 8 }, value: (u, v) => duration(v) },
    ],
    axes: [
      // Ticks on the report's own intervals (hours for hourly bars, never 5 minutes).
      report.interval === "total" ? { space: 90 } : { space: 90, incrs: [1, 2, 3, 4, 6, 8, 12, 24, 48, 96, 168, 336, 720].map((k) => k * step) },
      { scale: "n", label: "Contacts", values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t : "")) },
      { scale: "s", side: 1, label: "Handle time", grid: { show: false }, values: (u, ticks) => ticks.map(duration) },
    ],
  };
  reports.chart = new uPlot(options, data, holder);
}

function sizeChart() {
  const holder = $("hist-chart");
  if (reports.chart && holder.clientWidth) reports.chart.setSize({ width: Math.max(320, holder.clientWidth), height: 300 });
}

function historicalCsv() {
  const params = reports.historical?.params;
  if (params) download(`/reports/historical?${query({ ...params, format: "csv" })}`, "historical-metrics.csv", $("hist-form"));
}

// ---------- usage ----------

/** The form's days as the API's period: from the first day's midnight (UTC) to the one after the last. */
function usageParams() {
  const form = $("usage-form");
  const first = $("usage-from").value;
  const last = $("usage-to").value;
  const errors = [];
  if (!first) errors.push({ field: "from", reason: "is required" });
  if (!last) errors.push({ field: "to", reason: "is required" });
  if (errors.length) {
    showErrors(form, new ApiFailure(400, { errors }));
    return null;
  }
  const end = new Date(`${last}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1);
  return { from: `${first}T00:00:00Z`, to: end.toISOString() };
}

async function runUsage(event) {
  event?.preventDefault();
  const form = $("usage-form");
  clearErrors(form);
  const params = usageParams();
  if (!params) return;
  const run = ++reports.runs.usage;
  $("usage-run").disabled = true;
  try {
    const bill = await api(`/reports/usage?${query(params)}`);
    if (run !== reports.runs.usage) return;
    reports.usage = { params, bill };
    drawUsage(bill);
    $("usage-csv").disabled = false;
  } catch (e) {
    if (run === reports.runs.usage && e.status !== 401) showErrors(form, e);
  } finally {
    if (run === reports.runs.usage) $("usage-run").disabled = false;
  }
}

function drawUsage(bill) {
  const cur = bill.currency;
  const m = (v) => money(v, cur);
  const sum = (k) => bill.days.reduce((a, d) => a + d[k], 0);
  $("usage-total").textContent = m(bill.total.total);
  $("usage-contacts").textContent = count(sum("contacts"));
  $("usage-minutes").textContent = minutes(sum("voice_minutes"));
  $("usage-messages").textContent = count(sum("chat_messages"));
  const cells = (c) => [c.service, c.telephony, c.chat, c.numbers, c.total].map((v) => el("td", { class: "num", text: m(v) }));
  const table = $("usage-table");
  table.tBodies[0].replaceChildren(
    ...bill.days.map((d) =>
      el("tr", { "data-date": d.date },
        el("td", { text: new Date(`${d.date}T00:00:00Z`).toLocaleDateString(undefined, { timeZone: "UTC", dateStyle: "medium" }) }),
        el("td", { class: "num", text: count(d.contacts) }),
        el("td", { class: "num", text: minutes(d.voice_minutes) }),
        el("td", { class: "num", text: count(d.chat_messages) }),
        el("td", { class: "num", text: count(d.number_days) }),
        ...cells(d.cost))),
  );
  table.tFoot.replaceChildren(
    el("tr", { id: "usage-total-row" },
      el("td", { text: `Total (${cur})` }),
      el("td", { class: "num", text: count(sum("contacts")) }),
      el("td", { class: "num", text: minutes(sum("voice_minutes")) }),
      el("td", { class: "num", text: count(sum("chat_messages")) }),
      el("td", { class: "num", text: count(sum("number_days")) }),
      ...cells(bill.total)),
  );
  const numbers = Object.entries(bill.numbers);
  $("usage-numbers").tBodies[0].replaceChildren(
    ...numbers.map(([number, c]) =>
      el("tr", {},
        el("td", { text: number }),
        el("td", { class: "num", text: m(c.telephony) }),
        el("td", { class: "num", text: m(c.numbers) }),
        el("td", { class: "num", text: m(c.total) }),
        el("td", { class: "small", text: c.unrated.join("; ") }))),
  );
  $("usage-numbers-empty").hidden = numbers.length > 0;
  const unrated = [...new Set([...bill.total.unrated, ...bill.days.flatMap((d) => d.cost.unrated)])];
  const warning = $("usage-unrated");
  warning.querySelector("ul").replaceChildren(...unrated.map((u) => el("li", { text: u })));
  warning.hidden = unrated.length === 0;
  $("usage-total-label").textContent = unrated.length ? "Total for the period, without what is not priced" : "Total for the period";
  $("usage-results").hidden = false;
}

function usageCsv() {
  const params = reports.usage?.params;
  if (params) download(`/reports/usage?${query({ ...params, format: "csv" })}`, "usage.csv", $("usage-form"));
}

// ---------- contacts ----------

/** The search form as the API's query; empty fields are left out. */
function contactParams() {
  const from = $("contacts-from").value ? fromLocalInput($("contacts-from").value) : undefined;
  const to = $("contacts-to").value ? fromLocalInput($("contacts-to").value) : undefined;
  const value = (id) => $(id).value.trim() || undefined;
  return {
    time: $("contacts-time").value, from, to,
    channel: value("contacts-channel"), initiation_method: value("contacts-initiation"),
    queue_id: value("contacts-queue"), agent_id: value("contacts-agent"),
    number: value("contacts-number"), disconnect_reason: value("contacts-reason"),
    attribute: value("contacts-attribute"), tag: value("contacts-tag"), name: value("contacts-name"),
    text: value("contacts-text"),
    limit: $("contacts-limit").value,
  };
}

/** Fills the queue and agent choices once; a list the user may not read stays "Any". */
async function loadContactChoices() {
  const fill = async (select, path, label) => {
    try {
      const list = await api(path);
      const items = (list.items || []).slice().sort((a, b) => label(a).localeCompare(label(b)));
      select.append(...items.map((item) => el("option", { value: item.id, text: label(item) })));
    } catch (e) {
      select.title = `Not listed: ${e.message}`;
    }
  };
  await Promise.all([
    fill($("contacts-queue"), "/queues", (q) => q.name),
    fill($("contacts-agent"), "/users", (u) => u.username),
  ]);
  $("contacts-form").dataset.choices = "ready";
}

function contactsCsv() {
  // Without a limit the export is the whole search, not the page shown.
  const params = contactParams();
  delete params.limit;
  download(`/contacts?${query({ ...params, format: "csv" })}`, "contacts.csv", $("contacts-form"));
}

async function runContacts(event, more = false) {
  event?.preventDefault();
  const form = $("contacts-form");
  clearErrors(form);
  const params = contactParams();
  if (more) params.cursor = reports.contactsNext;
  const run = ++reports.runs.contacts;
  $("contacts-run").disabled = true;
  try {
    const page = await api(`/contacts?${query(params)}`);
    if (run !== reports.runs.contacts) return;
    drawContacts(page.items, more);
    reports.contactsNext = page.next || null;
    $("contacts-more").hidden = !page.next;
  } catch (e) {
    if (run === reports.runs.contacts && e.status !== 401) showErrors(form, e);
  } finally {
    if (run === reports.runs.contacts) $("contacts-run").disabled = false;
  }
}

function drawContacts(items, more) {
  const rows = items.map((c) => {
    const ended = c.disconnect_timestamp ? new Date(c.disconnect_timestamp).getTime() : null;
    const took = ended === null ? "ongoing" : duration((ended - new Date(c.initiation_timestamp).getTime()) / 1000);
    const row = el("tr", { "data-contact": c.id, tabindex: "0" },
      el("td", { class: "nowrap", text: new Date(c.initiation_timestamp).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) }),
      codeCell(c.channel),
      codeCell(c.initiation_method),
      el("td", { text: c.customer_endpoint?.address || c.customer_name || "—" }),
      el("td", { text: c.queue?.name || "—" }),
      el("td", { text: c.agent?.username || "—" }),
      el("td", { class: "num", text: took }),
      codeCell(c.disconnect_reason || (c.state === "ENDED" ? null : c.state)));
    row.addEventListener("click", () => openContact(c.id));
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        openContact(c.id);
      }
    });
    return row;
  });
  const body = $("contacts-table").tBodies[0];
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  $("contacts-empty").hidden = body.rows.length > 0;
}

function pair(list, label, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", { text: label }), el("dd", { text: String(value) }));
}

async function openContact(id) {
  const run = ++reports.runs.contact;
  for (const row of $("contacts-table").tBodies[0].rows) row.setAttribute("aria-selected", String(row.dataset.contact === id));
  const panel = $("contact-detail");
  panel.hidden = false;
  panel.dataset.contact = id;
  // Below the table on narrower screens: bring it into view.
  panel.scrollIntoView({ block: "nearest" });
  panel.removeAttribute("data-loaded");
  $("contact-id").textContent = id;
  $("contact-meta").replaceChildren();
  $("contact-cost").replaceChildren();
  $("contact-error").textContent = "";
  $("contact-recording").hidden = true;
  $("contact-transcript").hidden = true;
  $("transcript-list").replaceChildren();
  const player = $("recording-player");
  player.removeAttribute("src");
  if (reports.recordingUrl) URL.revokeObjectURL(reports.recordingUrl);
  reports.recordingUrl = null;

  let record;
  try {
    record = await api(`/contacts/${encodeURIComponent(id)}`);
  } catch (e) {
    if (run === reports.runs.contact && e.status !== 401) $("contact-error").textContent = e.message;
    return;
  }
  if (run !== reports.runs.contact) return;
  drawRecord(record);
  const problems = [];
  // Recordings and transcripts are recorded conversations: shown only to
  // profiles that may hear them, and said so to the others.
  const mayListen = reports.me?.permissions.includes("ListenCallRecordings");
  const recorded = ["recording", "transcript"].filter((k) => record[k]?.status === "AVAILABLE");
  if (recorded.length && !mayListen) {
    problems.push(`The ${recorded.join(" and ")} need the ListenCallRecordings permission`);
  }
  await Promise.all([
    drawCost(id, run).catch((e) => problems.push(`Cost: ${e.message}`)),
    mayListen && record.recording?.status === "AVAILABLE" ? drawRecording(id, run).catch((e) => problems.push(`Recording: ${e.message}`)) : null,
    mayListen && record.transcript?.status === "AVAILABLE" ? drawTranscript(id, run).catch((e) => problems.push(`Transcript: ${e.message}`)) : null,
  ]);
  if (run !== reports.runs.contact) return;
  $("contact-error").textContent = problems.join(" · ");
  panel.dataset.loaded = "true";
}

function drawRecord(r) {
  const meta = $("contact-meta");
  pair(meta, "Name", r.name);
  pair(meta, "Description", r.description);
  pair(meta, "Channel", inWords(r.channel));
  pair(meta, "Initiation", inWords(r.initiation_method));
  pair(meta, "State", inWords(r.state));
  pair(meta, "Initiated", when(r.initiation_timestamp));
  if (r.connected_to_system_timestamp) pair(meta, "Answered by Switchboard", when(r.connected_to_system_timestamp));
  pair(meta, "Customer", r.customer_endpoint?.address || r.customer_name);
  pair(meta, "Dialled", r.system_endpoint?.address);
  if (r.queue) {
    pair(meta, "Queue", r.queue.name);
    pair(meta, "Entered queue", when(r.queue.enqueue_timestamp));
    pair(meta, "Time in queue", r.queue.duration_seconds !== undefined ? duration(r.queue.duration_seconds) : null);
  }
  if (r.agent) {
    pair(meta, "Agent", r.agent.username);
    pair(meta, "Connected to agent", when(r.agent.connected_to_agent_timestamp));
    pair(meta, "Talk time", duration(r.agent.talk_duration_seconds));
    if (r.agent.hold_count) pair(meta, "Holds", `${r.agent.hold_count} (${duration(r.agent.hold_duration_seconds)})`);
    if (r.agent.after_contact_work_duration_seconds !== undefined) pair(meta, "After contact work", duration(r.agent.after_contact_work_duration_seconds));
  }
  if (r.disconnect_timestamp) pair(meta, "Ended", when(r.disconnect_timestamp));
  pair(meta, "Disconnect reason", inWords(r.disconnect_reason));
  if (r.transferred_to_endpoint) pair(meta, "Transferred to", r.transferred_to_endpoint.address);
  pair(meta, "Previous contact", r.previous_contact_id);
  pair(meta, "Next contact", r.next_contact_id);
  for (const [k, v] of Object.entries(r.attributes || {})) pair(meta, `Attribute ${k}`, v);
  for (const [k, v] of Object.entries(r.tags || {})) pair(meta, `Tag ${k}`, v);
  for (const [k, v] of Object.entries(r.references || {})) pair(meta, `Reference ${k}`, v);
  pair(meta, "Callback number", r.customer_callback_number);
  if (r.recording && r.recording.status !== "AVAILABLE") pair(meta, "Recording", `${r.recording.status}${r.recording.status_reason ? `: ${r.recording.status_reason}` : ""}`);
  if (r.transcript && r.transcript.status !== "AVAILABLE") pair(meta, "Transcript", `${r.transcript.status}${r.transcript.status_reason ? `: ${r.transcript.status_reason}` : ""}`);
}

async function drawCost(id, run) {
  const c = await api(`/contacts/${encodeURIComponent(id)}/cost`);
  if (run !== reports.runs.contact) return;
  const list = $("contact-cost");
  const m = (v) => money(v, c.currency);
  if (c.usage.service_minutes) pair(list, "Voice service", `${minutes(c.usage.service_minutes)} min · ${m(c.cost.service)}`);
  for (const leg of c.usage.legs) pair(list, `Telephony (${leg.direction.toLowerCase()})`, `${minutes(leg.minutes)} min on ${leg.number}`);
  if (c.cost.telephony) pair(list, "Telephony", m(c.cost.telephony));
  if (c.usage.chat_messages) pair(list, "Chat", `${count(c.usage.chat_messages)} messages · ${m(c.cost.chat)}`);
  pair(list, "Total", m(c.cost.total));
  if (c.cost.unrated.length) pair(list, "Not priced", c.cost.unrated.join("; "));
}

async function drawRecording(id, run) {
  const response = await api(`/contacts/${encodeURIComponent(id)}/recording`, { raw: true });
  const blob = await response.blob();
  if (run !== reports.runs.contact) return;
  reports.recordingUrl = URL.createObjectURL(blob);
  $("recording-player").src = reports.recordingUrl;
  $("contact-recording").hidden = false;
}

async function drawTranscript(id, run) {
  const transcript = await api(`/contacts/${encodeURIComponent(id)}/transcript`);
  if (run !== reports.runs.contact) return;
  const items = [];
  for (const e of transcript.Transcript || []) {
    const time = e.AbsoluteTime ? when(e.AbsoluteTime, false) : "";
    if (e.Type === "MESSAGE") {
      items.push(
        el("li", { class: "msg", "data-role": e.ParticipantRole },
          el("span", { class: "who", text: `${e.DisplayName || e.ParticipantRole} · ${time}` }),
          el("span", { class: "bubble", text: e.Content ?? "" })),
      );
    } else {
      const kind = (e.ContentType || "").split(".").slice(-2).join(".");
      const text = {
        "participant.joined": `${e.DisplayName || e.ParticipantRole} joined`,
        "participant.left": `${e.DisplayName || e.ParticipantRole} left`,
        "chat.ended": "Chat ended",
      }[kind];
      if (text) items.push(el("li", { class: "event", text: `${text} · ${time}` }));
    }
  }
  $("transcript-list").replaceChildren(...items);
  $("contact-transcript").hidden = false;
}

function closeContact() {
  reports.runs.contact++;
  $("contact-detail").hidden = true;
  $("recording-player").pause();
  for (const row of $("contacts-table").tBodies[0].rows) row.removeAttribute("aria-selected");
}

// ---------- start ----------

function defaults() {
  const now = new Date();
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  // Up to now (the next whole minute: the field has no seconds); the
  // server counts agents' time only up to the present anyway.
  const nextMinute = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours(), now.getMinutes() + 1);
  $("hist-from").value = localInput(midnight);
  $("hist-to").value = localInput(nextMinute);
  const today = now.toISOString().slice(0, 10);
  $("usage-from").value = `${today.slice(0, 8)}01`;
  $("usage-to").value = today;
}

wireSignIn(session, start);
$("logout").addEventListener("click", signOut);
for (const tab of TABS) $(`tab-${tab}`).addEventListener("click", () => show(tab));
window.addEventListener("hashchange", () => {
  const tab = location.hash.slice(1);
  if (reports.me && TABS.includes(tab) && allowed(tab)) show(tab);
});
$("hide-offline").addEventListener("change", () => {
  drawBoard();
  tick();
});
$("hist-form").addEventListener("submit", runHistorical);
$("hist-csv").addEventListener("click", historicalCsv);
$("usage-form").addEventListener("submit", runUsage);
$("usage-csv").addEventListener("click", usageCsv);
$("contacts-form").addEventListener("submit", runContacts);
$("contacts-csv").addEventListener("click", contactsCsv);
$("contacts-more").addEventListener("click", () => runContacts(null, true));
$("contact-close").addEventListener("click", closeContact);
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(sizeChart, 150);
});
setInterval(tick, 1000);
setInterval(() => { if (reports.thresholds) loadServiceLevels().then(attention); }, 60000);
$("thresholds-open").addEventListener("click", openThresholds);
$("thresholds-form").addEventListener("submit", saveThresholds);
$("thresholds-cancel").addEventListener("click", () => $("thresholds-dialog").close());
defaults();
start();
