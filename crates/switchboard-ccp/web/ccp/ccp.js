// Switchboard Contact Control Panel: sign in, status, contacts, softphone.
//
// One WebSocket (/ccp/ws) carries events and actions both ways and the
// softphone's WebRTC signalling. The page keeps no state the server does not
// have: after a refresh or a dropped network it says hello again and the
// server sends the agent's state and contacts back.

import { $, Session, el, showSignIn, STAFF_TOKEN_KEY, wireSignIn } from "/shared/session.js";

// The CCP keeps its own sign-in: an agent's, apart from the staff pages'.
// The socket, not the REST API, tells it when the token is refused.
const CCP_TOKEN_KEY = "switchboard.ccp.token";
const session = new Session(CCP_TOKEN_KEY, (message) => showSignIn(message));
// Arriving signed in from the landing page (`/`): the same user in the
// same tab, so no second sign-in.
if (!session.token() && sessionStorage.getItem(STAFF_TOKEN_KEY)) {
  sessionStorage.setItem(CCP_TOKEN_KEY, sessionStorage.getItem(STAFF_TOKEN_KEY));
}

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
const CONTACT_LABELS = {
  dialing: "Calling…",
  incoming: "Incoming call",
  connected: "Connected",
  on_hold: "On hold",
  ended: "After contact work",
};
const CHAT_LABELS = {
  incoming: "Incoming chat",
  connected: "Chat",
  ended: "After contact work",
};
const labelFor = (c) => (c.channel === "CHAT" ? CHAT_LABELS : CONTACT_LABELS)[c.state] || c.state;

const ccp = {
  socket: null,
  pc: null,
  mic: null,
  welcome: null,
  state: "Offline",
  since: null,
  contacts: new Map(),
  // Calls whose keypad is open (kept across the cards' re-rendering).
  keypads: new Set(),
  // The action waiting for its second click: { contact, action, target }.
  confirm: null,
  myPeer: null,

  media: { connected: false, packets: 0, level: 0 },
  retry: 0,
  closing: false,
};
window.ccp = ccp; // for the browser tests and for curious agents

// ---------- helpers ----------

function clock(since) {
  if (!since) return "0:00";
  const s = Math.max(0, Math.floor((Date.now() - new Date(since).getTime()) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function log(text) {
  const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  $("activity").prepend(el("li", {}, el("time", { text: time }), text));
  while ($("activity").children.length > 40) $("activity").lastChild.remove();
}

let toastTimer;
function toast(text) {
  $("toast").textContent = text;
  $("toast").hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => ($("toast").hidden = true), 5000);
}

function send(message) {
  if (ccp.socket && ccp.socket.readyState === WebSocket.OPEN) {
    ccp.socket.send(JSON.stringify(message));
    return true;
  }
  toast("Not connected to Switchboard; retrying…");
  return false;
}

// ---------- sign in ----------

async function signOut() {
  if (ccp.state !== "Offline" && ccp.contacts.size === 0) send({ type: "set_status", status: "Offline" });
  ccp.closing = true;
  await session.signOut();
  location.reload();
}

// ---------- the socket ----------

function connect() {
  const token = session.token();
  if (!token) return showSignIn();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ccp/ws`);
  ccp.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "hello", token }));
  socket.onmessage = (m) => {
    let message;
    try {
      message = JSON.parse(m.data);
    } catch {
      return;
    }
    onMessage(message);
  };
  socket.onclose = () => {
    if (ccp.socket !== socket) return;
    ccp.socket = null;
    setConnection(false);
    if (ccp.closing) return;
    const wait = Math.min(5000, 500 * 2 ** ccp.retry++);
    setTimeout(connect, wait);
  };
}

function setConnection(ok) {
  $("connection").dataset.ok = String(ok);
  $("connection").textContent = ok ? "connected" : "reconnecting…";
}

function onMessage(m) {
  switch (m.type) {
    case "welcome":
      ccp.retry = 0;
      ccp.welcome = m;
      setConnection(true);
      $("login").hidden = true;
      $("workspace").hidden = false;
            $("agent-name").textContent = m.agent.name || m.agent.username;
      $("dial-form").hidden = !m.can_dial;
      fillStatuses(m.statuses);
      ccp.contacts = new Map(m.contacts.map((c) => [c.contact, c]));
      setState(m.state, m.since);
      onMedia(m.media);
      renderContacts();
      log(m.contacts.length ? `Reconnected with ${m.contacts.length} contact(s)` : "Signed in");
      if (m.agent.softphone) startSoftphone();
      break;
    case "error":
      if (m.field === "token") {
        ccp.closing = true;
        session.forget();
        showSignIn(m.message);
        return;
      }
      toast(m.message);
      log(`⚠ ${m.message}`);
            if (m.field === "status") fillStatuses(ccp.welcome.statuses);
      if (m.field === "number") $("dial-error").textContent = m.message;
      break;
    case "dialing":
      $("dial-error").textContent = "";
      $("dial-number").value = "";
      break;
    case "agent_state":
      setState(m.state, m.since);
      break;
    case "contact": {
      const before = ccp.contacts.get(m.contact.contact);
      ccp.contacts.set(m.contact.contact, m.contact);
      if (!before || before.state !== m.contact.state) {
        log(`${labelFor(m.contact)}: ${m.contact.customer}`);
      }
      renderContacts();
      break;
    }
    case "contact_gone":
      ccp.contacts.delete(m.contact);
      
      renderContacts();
      break;
    case "resync":
      ccp.contacts = new Map(m.contacts.map((c) => [c.contact, c]));
      renderContacts();
      break;
        case "media":
      onMedia(m);
      break;
    case "notice":
      toast(m.message);
      log(`⚠ ${m.message}`);
      break;
    case "answer":
            ccp.myPeer = m.peer;
      if (ccp.pc) ccp.pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).catch((e) => mediaFailed(e));
      break;
    default:
      break;
  }
}

// ---------- status ----------

function fillStatuses(statuses) {
  const select = $("status-select");
  select.replaceChildren(
        ...statuses.map((s) => {
      const option = el("option", { value: s.name, text: s.name });
      // An agent who takes calls needs the audio path first (the server
      // refuses too); a chat-only agent does not.
      if (s.type === "ROUTABLE" && ccp.welcome?.agent?.takes_voice && !pathOk()) option.disabled = true;
      return option;
    }),
  );
  showSelected();
}

function showSelected() {
  const select = $("status-select");
  const names = [...select.options].map((o) => o.value);
  if (names.includes(ccp.state)) select.value = ccp.state;
  else if (ccp.lastStatus && names.includes(ccp.lastStatus)) select.value = ccp.lastStatus;
}

function setState(state, since) {
  const changed = state !== ccp.state;
  ccp.state = state;
  ccp.since = since;
  const box = $("agent-status");
  box.dataset.state = state;
  $("state-label").textContent = STATE_LABELS[state] || state;
    const statusNames = (ccp.welcome?.statuses || []).map((s) => s.name);
  if (statusNames.includes(state)) ccp.lastStatus = state;
  // The chosen status is in the picker; the label adds what routing says
  // only when it differs (Incoming, On contact, After contact work...).
  $("state-label").hidden = statusNames.includes(state);
  showSelected();
  if (changed) log(`Status: ${STATE_LABELS[state] || state}`);
  renderEmpty();
  tick();
}

// ---------- softphone ----------

// Whether this page's softphone is the agent's (another tab may have taken it).
function mine() {
  return ccp.myPeer !== null && ccp.media.peer === ccp.myPeer;
}

function pathOk() {
  return mine() && ccp.media.connected && ccp.media.packets > 0;
}

function onMedia(m) {
  const wasOk = pathOk();
  ccp.media = { ...ccp.media, ...m };
  const elsewhere = ccp.myPeer !== null && ccp.media.peer !== null && ccp.media.peer !== ccp.myPeer;
  $("use-here").hidden = !elsewhere;
  if (elsewhere) {
    $("media-note").textContent = "Your softphone is open in another tab or window; calls play there.";
  }
  $("check-peer").dataset.ok = String(mine() && ccp.media.connected);
  $("check-path").dataset.ok = String(pathOk());
    const level = mine() ? m.level || 0 : 0;
  $("meter-bar").style.width = `${Math.min(100, Math.round(level * 400))}%`;
  if (pathOk() && !wasOk) {
    $("media-note").textContent = "Switchboard hears your microphone. You can go Available.";
    log("Audio path tested");
    if (ccp.welcome) fillStatuses(ccp.welcome.statuses);
  }
}

function mediaFailed(e) {
  $("media-note").textContent = `Softphone problem: ${e.message || e}`;
  $("check-peer").dataset.ok = "fail";
}

async function startSoftphone() {
  if (ccp.pc) {
    ccp.pc.close();
    ccp.pc = null;
  }
    ccp.myPeer = null;
  ccp.media = { peer: null, connected: false, packets: 0, level: 0 };
  onMedia(ccp.media);
  try {
    if (!ccp.mic) {
      ccp.mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    }
    $("check-mic").dataset.ok = "true";
  } catch (e) {
    $("check-mic").dataset.ok = "fail";
    $("media-note").textContent = "The microphone is blocked: allow it in the browser's site settings, then reload.";
    log("Microphone not allowed");
    return;
  }
  const pc = new RTCPeerConnection({ iceServers: [] });
  ccp.pc = pc;
    for (const track of ccp.mic.getAudioTracks()) pc.addTrack(track, ccp.mic);
  pc.ontrack = (event) => {
    $("remote-audio").srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  pc.onconnectionstatechange = () => {
    if (pc !== ccp.pc) return;
        // Retried only while this tab is the softphone: a tab that was taken
    // over stays quiet until the agent says "use here".
    if (pc.connectionState === "failed" && (mine() || ccp.media.peer === null)) {
      mediaFailed("the audio connection failed; retrying");
      setTimeout(() => ccp.pc === pc && startSoftphone(), 2000);
    }
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  send({ type: "offer", sdp: pc.localDescription.sdp });
}



// What the browser received and played: for the tests and for support.
window.ccpAudioStats = async () => {
  if (!ccp.pc) return null;
  const stats = await ccp.pc.getStats();
  const out = { inbound: null, outbound: null };
  const codecs = new Map();
  stats.forEach((s) => {
    if (s.type === "codec") codecs.set(s.id, s.mimeType);
  });
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inbound = {
        packets: s.packetsReceived,
        energy: s.totalAudioEnergy,
        level: s.audioLevel,
        codec: codecs.get(s.codecId) ?? null,
      };
    }
    if (s.type === "outbound-rtp" && s.kind === "audio") {
      out.outbound = { packets: s.packetsSent, codec: codecs.get(s.codecId) ?? null };
    }
  });
  return out;
};

// ---------- contacts ----------

function renderEmpty() {
  const empty = ccp.contacts.size === 0;
  $("empty").hidden = !empty;
    const flagged = { Missed: "You missed a contact.", Rejected: "You rejected a contact.", Error: "Your phone could not be reached." };
  $("empty-text").textContent =
    ccp.state === "Available"
      ? "You are Available. Contacts will appear here."
      : flagged[ccp.state]
        ? `${flagged[ccp.state]} You receive no contacts until you say you are ready.`
        : "Set your status to Available to receive contacts.";
  $("ready-again").hidden = !flagged[ccp.state];
}

/** Who a contact is, for the activity list and questions. */
const whoIs = (id) => ccp.contacts.get(id)?.customer || "the contact";

/** Asks for the second click of `action` on `id` (re-drawn as a question). */
function ask(id, action, target) {
  ccp.confirm = { contact: id, action, target };
  renderContacts();
  // Focus goes to Cancel: a held or repeated Enter must not confirm.
  document.querySelector(`[data-contact="${CSS.escape(id)}"] [data-action="${action}-cancel"]`)?.focus();
}

function unask() {
  ccp.confirm = null;
  renderContacts();
}

/**
 * The question an action waiting for its second click shows in place of
 * its button: `question`, a button that does it (`yes`) and Cancel.
 * Transfer and end take two clicks: one slip must not send a caller away.
 */
function confirmation(action, question, yes, cls, doIt) {
  return el("span", { class: "confirm", role: "group", "aria-label": question },
    el("span", { class: "confirm-question", text: question }),
    el("button", { type: "button", class: cls, "data-action": `${action}-confirm`, onclick: () => { ccp.confirm = null; doIt(); renderContacts(); }, text: yes }),
    el("button", { type: "button", "data-action": `${action}-cancel`, onclick: unask, text: "Cancel" }));
}

const asking = (id, action) => ccp.confirm?.contact === id && ccp.confirm?.action === action;

/** An end button that asks first (`what`: "call", "chat"). */
function endButton(id, what, attrs = {}) {
  if (asking(id, "end")) {
    return confirmation("end", `End the ${what} with ${whoIs(id)}?`, `Yes, end the ${what}`, "danger", () => {
      if (send({ type: "end", contact: id })) log(`Ended the ${what} with ${whoIs(id)}`);
    });
  }
  return el("button", { type: "button", class: "danger", "data-action": "end", onclick: () => ask(id, "end"), text: `End ${what}`, ...attrs });
}

/**
 * Choosing a destination only chooses it; the Transfer button asks, and
 * only its confirmation transfers. (Transferring on the list's change sent
 * a caller away at one ArrowDown in the focused list.) The transfer is
 * written in the activity list.
 */
function transferPicker(id, targets, attrs) {
  if (asking(id, "transfer")) {
    const target = targets.find((q) => q.name === ccp.confirm.target);
    const to = target ? `${target.name} (${target.to})` : ccp.confirm.target;
    const name = ccp.confirm.target;
    return confirmation("transfer", `Transfer ${whoIs(id)} to ${to}?`, "Yes, transfer", "primary", () => {
      if (send({ type: "transfer", contact: id, quick_connect: name })) log(`Transferred ${whoIs(id)} to ${to}`);
    });
  }
  const picker = el("select", { class: "transfer", "aria-label": "Transfer to", "data-action": "transfer-to" },
    el("option", { value: "", text: "Transfer to…" }),
    ...targets.map((q) => el("option", { value: q.name, text: `${q.name} (${q.to})` })));
  const go = el("button", { type: "button", "data-action": "transfer", text: "Transfer", disabled: true, ...attrs });
  picker.addEventListener("change", () => { go.disabled = !picker.value; });
  go.addEventListener("click", () => {
    if (picker.value) ask(id, "transfer", picker.value);
  });
  return el("span", { class: "transfer-box" }, picker, go);
}

function button(label, cls, onclick, name) {
  return el("button", { class: cls, "data-action": name, onclick, text: label });
}

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/**
 * The in-call keypad: each key goes to the other party as a telephone
 * key (RFC 4733), to work a third party's menu. Every key is logged.
 */
function keypad(id) {
  const press = (key) => () => {
    if (send({ type: "send_keys", contact: id, keys: key })) log(`Key ${key} sent`);
  };
  return el("div", { class: "keypad", role: "group", "aria-label": "Keypad" },
    ...KEYS.map((k) => el("button", { type: "button", "data-key": k, onclick: press(k), text: k })));
}

function renderContacts() {
  const list = $("contact-list");
  const cards = [];
  for (const c of [...ccp.contacts.values()].sort((a, b) => a.since.localeCompare(b.since))) {
    if (c.channel === "CHAT") {
      cards.push(chatCard(c));
      continue;
    }
    const id = c.contact;
    // Each action goes in the activity list as it is asked for.
    const act = (type, said) => () => {
      if (send({ type, contact: id }) && said) log(`${said} ${whoIs(id)}`);
    };
    const actions = [];
    if (c.state === "incoming" && c.desk_phone) {
      // It rings on the agent's desk phone: answered (or declined) there.
      actions.push(el("p", { class: "note", "data-note": "desk-phone", text: "Ringing on your desk phone: answer it there." }));
    } else if (c.state === "incoming") {
      actions.push(button("Accept", "accept", act("accept", "Accepted"), "accept"));
      actions.push(button("Reject", "", act("reject", "Rejected"), "reject"));
    } else if (c.state === "connected" || c.state === "on_hold") {
      // Muting is done by Switchboard (the caller and the recording get
      // silence), so every tab shows the same and none can leave a mic open.
      actions.push(
        button(c.muted ? "Unmute" : "Mute", c.muted ? "toggled" : "", () => {
          if (send({ type: "mute", contact: id, muted: !c.muted })) log(`${c.muted ? "Unmuted" : "Muted"} the call with ${whoIs(id)}`);
        }, "mute"),
      );
      actions.push(
        c.state === "on_hold"
          ? button("Resume", "toggled", act("resume", "Resumed"), "resume")
          : button("Hold", "", act("hold", "Held"), "hold"),
      );
      if (c.state === "connected") {
        const open = ccp.keypads.has(id);
        const toggle = button(open ? "Hide keypad" : "Keypad", open ? "toggled" : "", () => {
          if (open) ccp.keypads.delete(id);
          else ccp.keypads.add(id);
          renderContacts();
        }, "keypad");
        toggle.setAttribute("aria-expanded", String(open));
        actions.push(toggle);
      }
      const targets = ccp.welcome?.quick_connects || [];
      if (targets.length) actions.push(transferPicker(id, targets, {}));
      actions.push(endButton(id, "call"));
    } else if (c.state === "dialing") {
      actions.push(button("Hang up", "danger", act("end", "Hung up on"), "end"));
    } else if (c.state === "ended") {
      actions.push(button("Close contact", "primary", act("close", "Closed the contact with"), "close"));
    }
    const meta = el("dl", { class: "meta" });
    const row = (k, v) => meta.append(el("dt", { text: k }), el("dd", { text: v }));
    row("Queue", c.queue || "—");
    row("Channel", c.channel === "VOICE" ? "Voice" : c.channel);
    row("Initiated", c.initiation_method.toLowerCase());
    if (c.desk_phone) row("Audio", "Desk phone");
    for (const [k, v] of Object.entries(c.attributes || {})) row(k, v);
    cards.push(
      el(
        "article",
        { class: "contact", "data-contact": id, "data-state": c.state },
        el(
          "div",
          { class: "contact-head" },
          el("span", { class: "badge", text: CONTACT_LABELS[c.state] || c.state }),
          el("span", { class: "timer", "data-since": c.since, text: clock(c.since) }),
        ),
        el("div", { class: "caller", text: c.customer || "Unknown caller" }),
        meta,
        el("div", { class: "actions" }, ...actions),
        ...(c.state === "connected" && ccp.keypads.has(id) ? [keypad(id)] : []),
      ),
    );
  }
  for (const id of ccp.keypads) if (!ccp.contacts.has(id)) ccp.keypads.delete(id);
  // A question about a contact that has moved on is no longer asked.
  const asked = ccp.confirm && ccp.contacts.get(ccp.confirm.contact);
  if (ccp.confirm && !(asked && ["connected", "on_hold"].includes(asked.state))) ccp.confirm = null;
  place(list, cards);
  forgetChats();
  const incoming = [...ccp.contacts.values()].filter((c) => c.state === "incoming");
  ringing(incoming.some((c) => c.channel !== "CHAT"), incoming.some((c) => c.channel === "CHAT"));
  chime(incoming.filter((c) => c.channel === "CHAT").map((c) => c.contact));
  renderEmpty();
}

// Puts the cards in order, moving as few nodes as possible: a chat panel
// taken out of the page loses its scroll position and the agent's focus.
function place(list, cards) {
  const keep = new Set(cards);
  for (const node of [...list.children]) if (!keep.has(node)) node.remove();
  const focused = document.activeElement;
  let cursor = list.firstChild;
  for (const card of cards) {
    if (card === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(card, cursor);
  }
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
}

// ---------- chats ----------
//
// A chat contact's card is kept across renders (unlike a call's): it holds
// the conversation, the agent's half-written reply and its own participant
// WebSocket (/api/v1/chat/connect with the contact's chat_token).

const chats = new Map(); // contact id -> { el, top, body, actions, conn, transcript, token, shown }
window.ccpChats = chats; // for the browser tests

// Loaded on the first chat only: a voice-only day never needs it.
let chatModule = null;
const loadChat = () => (chatModule ||= import("/chat/client.js"));

const CHAT_STATUS = {
  connecting: "Connecting to the chat…",
  reconnecting: "Connection lost; reconnecting…",
  ended: "Chat ended",
  refused: "This chat is no longer open to you",
  closed: "",
  connected: "",
};

function chatCard(c) {
  const id = c.contact;
  let view = chats.get(id);
  if (!view) {
    view = {
      el: el("article", { class: "contact chat", "data-contact": id, "data-chat": id, "data-channel": "CHAT" }),
      top: el("div", { class: "chat-top" }),
      body: null,
      actions: el("div", { class: "actions" }),
      conn: null,
      transcript: null,
      token: null,
      shown: "",
    };
    view.el.append(view.top, view.actions);
    chats.set(id, view);
  }
  // Only what changed is drawn again: the conversation is never redrawn.
  // (A question asked about this chat's end or transfer is a change.)
  const shown = JSON.stringify([c, ccp.confirm?.contact === id ? ccp.confirm : null]);
  if (view.shown !== shown) {
    view.shown = shown;
    view.el.dataset.state = c.state;
    drawChatTop(view, c);
    drawChatActions(view, c);
  }
  if (c.state !== "incoming" && c.chat_token) openChat(view, c);
  if (view.body) {
    const over = c.state === "ended" || view.conn?.ended;
    view.input.disabled = Boolean(over);
    view.sendButton.disabled = Boolean(over);
  }
  return view.el;
}

function drawChatTop(view, c) {
  const meta = el("dl", { class: "meta" });
  const row = (k, v) => meta.append(el("dt", { text: k }), el("dd", { text: v }));
  row("Queue", c.queue || "—");
  row("Channel", "Chat");
  row("Initiated", (c.initiation_method || "").toLowerCase());
  for (const [k, v] of Object.entries(c.attributes || {})) row(k, v);
  // Once talking, the details fold away to leave room for the conversation.
  const details =
    c.state === "incoming"
      ? meta
      : el("details", { class: "chat-details" }, el("summary", { text: `${c.queue || "No queue"} · details` }), meta);
  view.top.replaceChildren(
    el(
      "div",
      { class: "contact-head" },
      el("span", { class: "badge", text: labelFor(c) }),
      el("span", { class: "timer", "data-since": c.since, text: clock(c.since) }),
    ),
    el("div", { class: "caller", text: c.customer || "Customer" }),
    details,
  );
}

function drawChatActions(view, c) {
  const id = c.contact;
  const act = (type, said) => () => {
    if (send({ type, contact: id }) && said) log(`${said} ${whoIs(id)}`);
  };
  const actions = [];
  if (c.state === "incoming") {
    actions.push(el("button", { class: "accept", "data-action": "accept", "data-sb": "accept", onclick: act("accept", "Accepted the chat with"), text: "Accept" }));
    actions.push(el("button", { "data-action": "reject", "data-sb": "reject", onclick: act("reject", "Rejected the chat with"), text: "Reject" }));
  } else if (c.state === "connected") {
    // A chat can only wait in a queue: agent and number quick connects are for calls.
    const targets = (ccp.welcome?.quick_connects || []).filter((q) => q.target?.type === "QUEUE");
    if (targets.length) actions.push(transferPicker(id, targets, { "data-sb": "transfer" }));
    actions.push(endButton(id, "chat", { "data-sb": "end" }));
  } else if (c.state === "ended") {
    actions.push(el("button", { class: "primary", "data-action": "close", "data-sb": "close", onclick: act("close", "Closed the chat with"), text: "Close contact" }));
  }
  view.actions.replaceChildren(...actions);
}

function buildChatBody(view) {
  view.messages = el("div", { class: "chat-messages", "data-sb": "messages", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" });
  view.typing = el("p", { class: "chat-typing", "data-sb": "typing", hidden: "" });
  view.status = el("p", { class: "chat-status", "data-sb": "status", role: "status" });
  view.input = el("textarea", { rows: "2", maxlength: "4096", placeholder: "Reply…", "aria-label": "Reply", "data-sb": "input" });
  view.sendButton = el("button", { class: "primary", type: "button", "data-sb": "send", text: "Send" });
  const sendNow = () => {
    const text = view.input.value;
    if (!view.conn || !text.trim()) return;
    if (view.conn.send(text)) view.input.value = "";
  };
  view.sendButton.addEventListener("click", sendNow);
  view.input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a new line; an IME composition is left alone.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendNow();
    }
  });
  view.input.addEventListener("input", () => view.conn?.typing());
  view.body = el(
    "div",
    { class: "chat-body" },
    view.messages,
    view.typing,
    el("div", { class: "chat-composer" }, view.input, view.sendButton),
    view.status,
  );
  view.el.insertBefore(view.body, view.actions);
}

const statusTimers = new WeakMap();
function chatStatus(view, text, ms = 0) {
  view.status.textContent = text;
  clearTimeout(statusTimers.get(view));
  if (ms) {
    statusTimers.set(
      view,
      setTimeout(() => (view.status.textContent = CHAT_STATUS[view.conn?.state] || ""), ms),
    );
  }
}

// The agent has read what is on a visible page.
function markChatRead(view) {
  if (!view.conn || !view.transcript || document.visibilityState !== "visible") return;
  for (const seq of view.transcript.takeUnread()) view.conn.receipt(seq, "READ");
}

function openChat(view, c) {
  if (view.token === c.chat_token) return;
  view.conn?.close();
  view.conn = null;
  view.token = c.chat_token;
  if (!view.body) buildChatBody(view);
  chatStatus(view, CHAT_STATUS.connecting);
  const token = c.chat_token;
  loadChat().then(
    ({ ChatConnection, ChatTranscript }) => {
      // The contact may have gone, or its token changed, while loading.
      if (chats.get(c.contact) !== view || view.token !== token) return;
      // One transcript per panel: a new connection replays from 0 and the
      // transcript skips what it already shows.
      view.transcript ||= new ChatTranscript(view.messages, view.typing, {
        self: () => view.conn?.participantId,
        receiptsFor: (item) => item.role === "CUSTOMER",
      });
      view.conn = new ChatConnection({
        base: "",
        token,
        since: 0,
        onItem: (item) => {
          const theirs = view.transcript.add(item);
          if (theirs) {
            view.conn.receipt(item.seq, "DELIVERED");
            markChatRead(view);
          }
          if (item.type === "ENDED") {
            view.input.disabled = true;
            view.sendButton.disabled = true;
          }
        },
        onTyping: (t) => view.transcript.showTyping(t),
        onState: (s) => chatStatus(view, CHAT_STATUS[s] ?? ""),
        onError: (e) => {
          if (e.retry_after_ms != null) {
            const secs = Math.max(1, Math.ceil(e.retry_after_ms / 1000));
            chatStatus(view, `Sending too fast; sending again in ${secs} s`, e.retry_after_ms + 500);
          } else if (e.field !== "token") {
            chatStatus(view, e.message || "Something went wrong", 6000);
          } else {
            chatStatus(view, e.message || CHAT_STATUS.refused);
          }
        },
        onOutbox: (entries) => view.transcript.showPending(entries),
      });
    },
    (e) => chatStatus(view, `The chat cannot be shown: ${e.message || e}`),
  );
}

// Chats whose contact is gone (closed, rejected, missed) close their socket.
function forgetChats() {
  for (const [id, view] of chats) {
    if (ccp.contacts.get(id)?.channel === "CHAT") continue;
    view.conn?.close();
    view.transcript?.hideTyping();
    view.el.remove();
    chats.delete(id);
  }
}

document.addEventListener("visibilitychange", () => {
  for (const view of chats.values()) markChatRead(view);
});

// ---------- ringing ----------

// A soft two-tone ring while a call is offered (the page may be in a
// background tab: the title says so too). Made here, no audio file.
const ring = { ctx: null, timer: null };
function ringing(on, chatWaiting = false) {
  document.title = on
    ? "● Incoming call · Switchboard"
    : chatWaiting
      ? "● Incoming chat · Switchboard"
      : "Switchboard · Contact Control Panel";
  if (on && !ring.timer) {
    const burst = () => {
      try {
        ring.ctx = ring.ctx || new AudioContext();
        const t = ring.ctx.currentTime;
        const gain = ring.ctx.createGain();
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.08, t + 0.05);
        gain.gain.setValueAtTime(0.08, t + 1.2);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 1.4);
        gain.connect(ring.ctx.destination);
        for (const f of [440, 480]) {
          const osc = ring.ctx.createOscillator();
          osc.frequency.value = f;
          osc.connect(gain);
          osc.start(t);
          osc.stop(t + 1.5);
        }
      } catch {
        // No audio output: the card and the title still show the call.
      }
    };
    burst();
    ring.timer = setInterval(burst, 3000);
  } else if (!on && ring.timer) {
    clearInterval(ring.timer);
    ring.timer = null;
  }
}

// A chat waits without a caller on the line, so it gets a gentler sound:
// one short rising chime when it is offered, not a repeating ring.
const chimed = new Set();
function chime(ids) {
  for (const id of [...chimed]) if (!ids.includes(id)) chimed.delete(id);
  const fresh = ids.filter((id) => !chimed.has(id));
  if (!fresh.length) return;
  for (const id of fresh) chimed.add(id);
  try {
    ring.ctx = ring.ctx || new AudioContext();
    const t = ring.ctx.currentTime;
    [660, 880].forEach((f, i) => {
      const start = t + i * 0.18;
      const gain = ring.ctx.createGain();
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.06, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
      gain.connect(ring.ctx.destination);
      const osc = ring.ctx.createOscillator();
      osc.type = "sine";
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(start);
      osc.stop(start + 0.4);
    });
  } catch {
    // No audio output: the card and the title still show the chat.
  }
}

function tick() {
  $("state-timer").textContent = clock(ccp.since);
  for (const t of document.querySelectorAll(".contact .timer")) t.textContent = clock(t.dataset.since);
}

// ---------- start ----------

function start() {
  ccp.closing = false;
  connect();
}

wireSignIn(session, start);
$("logout").addEventListener("click", signOut);
$("use-here").addEventListener("click", () => startSoftphone());
// A ping every 10 s: the server takes a page silent for 30 s as gone.
setInterval(() => {
  if (ccp.socket && ccp.socket.readyState === WebSocket.OPEN) ccp.socket.send('{"type":"ping"}');
}, 10000);
$("dial-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const number = $("dial-number").value.replace(/[\s().-]/g, "");
  $("dial-error").textContent = "";
  if (!number) return;
  send({ type: "dial", number });
});
$("ready-again").addEventListener("click", () => {
  send({ type: "set_status", status: ccp.lastStatus || "Available" });
});
$("status-select").addEventListener("change", (e) => {
  send({ type: "set_status", status: e.target.value });
});
setInterval(tick, 500);
start();
