// Switchboard Contact Control Panel: sign in, status, contacts, softphone.
//
// One WebSocket (/ccp/ws) carries events and actions both ways and the
// softphone's WebRTC signalling. The page keeps no state the server does not
// have: after a refresh or a dropped network it says hello again and the
// server sends the agent's state and contacts back.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "switchboard.ccp.token";

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

const ccp = {
  socket: null,
  pc: null,
  mic: null,
  welcome: null,
  state: "Offline",
  since: null,
  contacts: new Map(),
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

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") node.addEventListener("click", v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
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

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  $("login-button").disabled = true;
  try {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("login-error").textContent = body.message || `Sign-in failed (${response.status})`;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, body.token);
    start();
  } catch (e) {
    $("login-error").textContent = `Switchboard cannot be reached: ${e.message}`;
  } finally {
    $("login-button").disabled = false;
  }
}

async function signOut() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (ccp.state !== "Offline" && ccp.contacts.size === 0) send({ type: "set_status", status: "Offline" });
  ccp.closing = true;
  sessionStorage.removeItem(TOKEN_KEY);
  if (token) {
    await fetch("/api/v1/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => {});
  }
  location.reload();
}

function showLogin(message) {
  $("workspace").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("username").focus();
}

// ---------- the socket ----------

function connect() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showLogin();
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
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(m.message);
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
        log(`${CONTACT_LABELS[m.contact.state] || m.contact.state}: ${m.contact.customer}`);
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
      if (s.type === "ROUTABLE" && !pathOk()) option.disabled = true;
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
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inbound = { packets: s.packetsReceived, energy: s.totalAudioEnergy, level: s.audioLevel };
    }
    if (s.type === "outbound-rtp" && s.kind === "audio") out.outbound = { packets: s.packetsSent };
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

function button(label, cls, onclick, name) {
  return el("button", { class: cls, "data-action": name, onclick, text: label });
}

function renderContacts() {
  const list = $("contact-list");
  const cards = [];
  for (const c of [...ccp.contacts.values()].sort((a, b) => a.since.localeCompare(b.since))) {
    const id = c.contact;
    const act = (type) => () => send({ type, contact: id });
    const actions = [];
    if (c.state === "incoming") {
      actions.push(button("Accept", "accept", act("accept"), "accept"));
      actions.push(button("Reject", "", act("reject"), "reject"));
    } else if (c.state === "connected" || c.state === "on_hold") {
            // Muting is done by Switchboard (the caller and the recording get
      // silence), so every tab shows the same and none can leave a mic open.
      actions.push(
        button(c.muted ? "Unmute" : "Mute", c.muted ? "toggled" : "", () => {
          send({ type: "mute", contact: id, muted: !c.muted });
        }, "mute"),
      );
      actions.push(
        c.state === "on_hold"
          ? button("Resume", "toggled", act("resume"), "resume")
          : button("Hold", "", act("hold"), "hold"),
      );
            const targets = ccp.welcome?.quick_connects || [];
      if (targets.length) {
        const picker = el("select", { class: "transfer", "aria-label": "Transfer to", "data-action": "transfer" },
          el("option", { value: "", text: "Transfer…" }),
                    ...targets.map((q) => el("option", { value: q.name, text: `${q.name} (${q.to})` })));
        picker.addEventListener("change", () => {
          if (picker.value) send({ type: "transfer", contact: id, quick_connect: picker.value });
        });
        actions.push(picker);
      }
      actions.push(button("End call", "danger", act("end"), "end"));
        } else if (c.state === "dialing") {
      actions.push(button("Hang up", "danger", act("end"), "end"));
    } else if (c.state === "ended") {
      actions.push(button("Close contact", "primary", act("close"), "close"));
    }
    const meta = el("dl", { class: "meta" });
    const row = (k, v) => meta.append(el("dt", { text: k }), el("dd", { text: v }));
    row("Queue", c.queue || "—");
    row("Channel", c.channel === "VOICE" ? "Voice" : c.channel);
    row("Initiated", c.initiation_method.toLowerCase());
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
      ),
    );
  }
    list.replaceChildren(...cards);
    ringing([...ccp.contacts.values()].some((c) => c.state === "incoming"));
  renderEmpty();
}

// ---------- ringing ----------

// A soft two-tone ring while a contact is offered (the page may be in a
// background tab: the title says so too). Made here, no audio file.
const ring = { ctx: null, timer: null };
function ringing(on) {
  document.title = on ? "● Incoming call · Switchboard" : "Switchboard · Contact Control Panel";
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

function tick() {
  $("state-timer").textContent = clock(ccp.since);
  for (const t of document.querySelectorAll(".contact .timer")) t.textContent = clock(t.dataset.since);
}

// ---------- start ----------

function start() {
  ccp.closing = false;
  connect();
}

$("login-form").addEventListener("submit", signIn);
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
