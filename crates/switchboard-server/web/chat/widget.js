// Switchboard chat widget: a company's page embeds it with
//
//   <script type="module" src="https://switchboard.example/chat/widget.js"
//           data-flow="Sales chat" data-title="Chat with us"></script>
//
// Everything it draws lives in a Shadow DOM with its own styles, so the
// page's CSS does not reach in and ours does not leak out. It talks only to
// the Switchboard that served this file (import.meta.url's origin).

import { ChatConnection, ChatTranscript, newToken } from "./client.js";

const BASE = new URL(import.meta.url).origin;
// Per Switchboard: one page may embed widgets of two installations.
const STORE_KEY = `switchboard.chat:${BASE}`;
const OPEN_KEY = `${STORE_KEY}:open`;

// The <script> that loaded us carries the settings in data-* attributes.
function ownScript() {
  const here = import.meta.url.split("#")[0];
  const scripts = [...document.querySelectorAll("script[src]")];
  return (
    scripts.find((s) => s.src.split("#")[0] === here) ||
    // A cache-busting query or a redirect may change the URL a little.
    scripts.find((s) => new URL(s.src, location.href).pathname.endsWith("/chat/widget.js")) ||
    null
  );
}

function readConfig() {
  const data = ownScript()?.dataset || {};
  // A page may also set window.SwitchboardChatConfig before the script
  // (data-* are static; the demo page picks the flow from its address).
  const global = window.SwitchboardChatConfig || {};
  return {
    flow: global.flow || data.flow || "",
    title: global.title || data.title || "Chat with us",
    displayName: global.displayName || global.display_name || data.displayName || "",
    attributes: global.attributes || {},
  };
}

const STYLE = `
/* The page's rules on the host element win over :host ones, so the host
   only places the widget (!important) and the reset is on .root inside:
   nothing the page sets inherits in. Custom properties do pass, so a page
   may set --sb-brand on #switchboard-chat to match its colours. */
:host {
  all: initial !important;
  display: block !important; position: fixed !important; right: 20px !important; bottom: 20px !important;
  z-index: 2147483000 !important;
  --sb-brand: #1f4fd1; --sb-ink: #18202b; --sb-muted: #5e6b7a; --sb-line: #dde3ea;
  --sb-bg: #ffffff; --sb-soft: #f3f5f8; --sb-error: #b91c1c;
}
.root {
  all: initial; display: block;
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--sb-ink);
}
* { box-sizing: border-box; font: inherit; }
[hidden] { display: none !important; }
button { cursor: pointer; border-radius: 8px; border: 1px solid var(--sb-line); background: var(--sb-bg); color: var(--sb-ink); padding: 0.45rem 0.8rem; font-weight: 600; }
button:disabled { opacity: 0.5; cursor: not-allowed; }
button.primary { background: var(--sb-brand); border-color: var(--sb-brand); color: #fff; }
button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 2px solid var(--sb-brand); outline-offset: 2px; }

.launcher { width: 60px; height: 60px; border-radius: 50%; padding: 0; border: none; background: var(--sb-brand); color: #fff;
  display: grid; place-items: center; box-shadow: 0 6px 20px rgba(20, 30, 50, 0.25); position: relative; }
.launcher svg { width: 28px; height: 28px; }
.unread { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; border-radius: 10px; background: var(--sb-error);
  color: #fff; font-size: 12px; font-weight: 700; display: grid; place-items: center; padding: 0 5px; }

.panel { position: absolute; right: 0; bottom: 74px; width: min(370px, calc(100vw - 24px)); height: min(560px, calc(100vh - 110px));
  background: var(--sb-bg); border-radius: 14px; box-shadow: 0 12px 40px rgba(20, 30, 50, 0.22); border: 1px solid var(--sb-line);
  display: flex; flex-direction: column; overflow: hidden; }
.head { display: flex; align-items: center; gap: 0.4rem; padding: 0.7rem 0.8rem; background: var(--sb-brand); color: #fff; }
.title { flex: 1; font-weight: 700; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.head button { background: transparent; border-color: rgba(255, 255, 255, 0.45); color: #fff; padding: 0.25rem 0.6rem; }
.status { margin: 0; padding: 0.35rem 0.8rem; font-size: 13px; color: var(--sb-muted); background: var(--sb-soft); border-bottom: 1px solid var(--sb-line); }
.status:empty { display: none; }
.status[data-tone="error"] { color: var(--sb-error); }

.prechat { display: grid; gap: 0.8rem; padding: 1rem; overflow: auto; }
.prechat p.intro { margin: 0; color: var(--sb-muted); }
.prechat label { display: grid; gap: 0.3rem; font-weight: 600; font-size: 14px; }
.prechat input, .prechat textarea, .composer textarea { width: 100%; padding: 0.55rem 0.65rem; border: 1px solid var(--sb-line); border-radius: 8px;
  background: var(--sb-bg); color: var(--sb-ink); resize: none; }
[aria-invalid="true"] { border-color: var(--sb-error) !important; }
.form-error { margin: 0; color: var(--sb-error); font-size: 14px; white-space: pre-line; }
.form-error:empty { display: none; }

.chat { flex: 1; display: flex; flex-direction: column; min-height: 0; }
.messages { flex: 1; overflow-y: auto; padding: 0.8rem; display: flex; flex-direction: column; gap: 0.55rem; background: var(--sb-bg); }
.sb-msg { max-width: 82%; display: grid; gap: 0.15rem; align-self: flex-start; }
.sb-msg[data-mine="true"] { align-self: flex-end; justify-items: end; }
.sb-msg[data-role="SYSTEM"] { align-self: center; justify-items: center; max-width: 92%; }
.sb-meta { font-size: 12px; color: var(--sb-muted); }
.sb-bubble { padding: 0.5rem 0.75rem; border-radius: 14px; background: var(--sb-soft); white-space: pre-wrap; overflow-wrap: anywhere; border-bottom-left-radius: 4px; }
.sb-msg[data-mine="true"] .sb-bubble { background: var(--sb-brand); color: #fff; border-bottom-left-radius: 14px; border-bottom-right-radius: 4px; }
.sb-msg[data-role="SYSTEM"] .sb-bubble { background: transparent; color: var(--sb-muted); border: 1px dashed var(--sb-line); border-radius: 10px; text-align: center; font-size: 14px; }
.sb-pending { opacity: 0.6; }
.sb-pending-box { display: contents; }
.sb-receipt { font-size: 11px; color: var(--sb-muted); min-height: 0; }
.sb-receipt:empty { display: none; }
.sb-notice { align-self: center; font-size: 12px; color: var(--sb-muted); padding: 0.1rem 0.6rem; border-radius: 999px; background: var(--sb-soft); }
.typing { margin: 0; padding: 0.15rem 0.9rem; font-size: 12px; color: var(--sb-muted); font-style: italic; }
.composer { display: flex; gap: 0.5rem; padding: 0.6rem; border-top: 1px solid var(--sb-line); align-items: flex-end; }
.composer textarea { flex: 1; max-height: 8rem; }
.composer textarea:disabled { background: var(--sb-soft); }
.again { margin: 0.6rem; }
@media (max-width: 480px) { :host { right: 12px !important; bottom: 12px !important; } }
`;

// Static markup only: nothing from the page, the customer or the agent.
const MARKUP = `<div class="root">
<button class="launcher" type="button" data-sb="launcher" aria-expanded="false" aria-label="Open chat">
  <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
    <path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/></svg>
  <span class="unread" data-sb="unread" hidden></span>
</button>
<section class="panel" data-sb="panel" role="dialog" hidden>
  <header class="head">
    <span class="title" data-sb="title"></span>
    <button type="button" data-sb="minimise" aria-label="Minimise chat" title="Minimise">–</button>
    <button type="button" data-sb="end" hidden>End chat</button>
  </header>
  <p class="status" data-sb="status" role="status" aria-live="polite"></p>
  <form class="prechat" data-sb="form" novalidate>
    <p class="intro">Tell us who you are and how we can help; we will be right with you.</p>
    <label>Your name <input data-sb="name" name="name" maxlength="256" autocomplete="name" required></label>
    <label>Your message <textarea data-sb="first-message" name="message" rows="3" maxlength="4096"></textarea></label>
    <p class="form-error" data-sb="form-error" role="alert"></p>
    <button class="primary" type="submit" data-sb="start">Start chat</button>
  </form>
  <div class="chat" data-sb="chat" hidden>
    <div class="messages" data-sb="messages" role="log" aria-live="polite" aria-label="Messages" tabindex="0"></div>
    <p class="typing" data-sb="typing" hidden></p>
    <div class="composer" data-sb="composer">
      <textarea data-sb="input" rows="2" maxlength="4096" placeholder="Type a message" aria-label="Message"></textarea>
      <button class="primary" type="button" data-sb="send">Send</button>
    </div>
    <button class="primary again" type="button" data-sb="new-chat" hidden>Start a new chat</button>
  </div>
</section>
</div>`;

function mount() {
  if (document.getElementById("switchboard-chat")) return; // embedded twice
  const config = readConfig();
  const host = document.createElement("div");
  host.id = "switchboard-chat";
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = STYLE;
  root.append(style);
  root.append(document.createRange().createContextualFragment(MARKUP));
  document.body.append(host);
  const ui = (name) => root.querySelector(`[data-sb="${name}"]`);
  const $ = {
    launcher: ui("launcher"), unread: ui("unread"), panel: ui("panel"), title: ui("title"),
    minimise: ui("minimise"), end: ui("end"), status: ui("status"), form: ui("form"),
    name: ui("name"), first: ui("first-message"), formError: ui("form-error"), start: ui("start"),
    chat: ui("chat"), messages: ui("messages"), typing: ui("typing"), input: ui("input"),
    send: ui("send"), again: ui("new-chat"),
  };
  $.title.textContent = config.title;
  $.panel.setAttribute("aria-label", config.title);
  $.name.value = config.displayName;

  // What a test (or a curious developer) can look at.
  const state = {
    phase: "form", // "form" | "chat"
    open: false,
    status: "",
    contactId: null,
    participantId: null,
    ended: false,
    agents: new Map(), // agents in the chat now: participant id -> name
    unread: 0,
    config,
  };
  let conn = null;
  let transcript = null;
  let session = null; // {token, contactId, participantId, lastSeq}
  let startToken = null; // the same start request again returns the same chat
  let noteTimer = null;
  let note = null; // a passing message over the status line
  window.switchboardChat = {
    get connection() {
      return conn;
    },
    state,
  };

  // ---------- storage ----------

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    } catch {
      return null;
    }
  }
  function save() {
    try {
      if (session) sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
      else sessionStorage.removeItem(STORE_KEY);
      sessionStorage.setItem(OPEN_KEY, state.open ? "1" : "");
    } catch {
      // Storage may be blocked (private mode, sandboxed frame): no resume then.
    }
  }

  // ---------- status line ----------

  function statusText() {
    if (state.phase !== "chat") return "";
    if (state.ended) return "Chat ended";
    if (!conn) return "";
    switch (conn.state) {
      case "connecting":
        return "Connecting…";
      case "reconnecting":
        return "Connection lost; reconnecting…";
      case "ended":
        return "Chat ended";
      case "refused":
        return "This chat is no longer available";
      case "connected":
        return state.agents.size ? `Chatting with ${[...state.agents.values()].join(", ")}` : "Waiting for an agent";
      default:
        return "";
    }
  }
  function showStatus() {
    state.status = note ? note.text : statusText();
    $.status.textContent = state.status;
    $.status.dataset.tone = note ? note.tone : "";
  }
  function flash(text, ms = 6000, tone = "error") {
    note = { text, tone };
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => {
      note = null;
      showStatus();
    }, ms);
    showStatus();
  }

  // ---------- open / minimise ----------

  function setOpen(open, focus = true) {
    state.open = open;
    $.panel.hidden = !open;
    $.launcher.setAttribute("aria-expanded", String(open));
    $.launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) {
      state.unread = 0;
      $.unread.hidden = true;
      markRead();
      if (focus) (state.phase === "chat" ? $.input : $.name.value ? $.first : $.name).focus();
      transcript?.scrollToEnd();
    }
    save();
  }

  const seen = () => state.open && document.visibilityState === "visible";

  // READ only for what the customer can actually see.
  function markRead() {
    if (!conn || !transcript || !seen()) return;
    for (const seq of transcript.takeUnread()) conn.receipt(seq, "READ");
  }

  // ---------- pre-chat form ----------

  function showForm(message) {
    state.phase = "form";
    $.form.hidden = false;
    $.chat.hidden = true;
    $.end.hidden = true;
    $.formError.textContent = message || "";
    $.start.disabled = false;
    note = null;
    showStatus();
  }

  const FIELD_INPUTS = { display_name: "name", initial_message: "first", "initial_message.content": "first" };
  const FIELD_LABELS = { display_name: "Name", initial_message: "Message", "initial_message.content": "Message", flow: "Chat" };

  function formErrors(body, status) {
    for (const input of [$.name, $.first]) input.removeAttribute("aria-invalid");
    const errors = Array.isArray(body?.errors) ? body.errors : [];
    const lines = errors.map((e) => {
      const input = $[FIELD_INPUTS[e.field]];
      if (input) input.setAttribute("aria-invalid", "true");
      return `${FIELD_LABELS[e.field] || e.field}: ${e.reason}`;
    });
    if (!lines.length) {
      lines.push(body?.message || (status === 429 ? "Too many attempts; please wait a moment." : `The chat could not start (${status}).`));
    }
    $.formError.textContent = lines.join("\n");
  }

  async function startChat(event) {
    event.preventDefault();
    const name = $.name.value.trim();
    const first = $.first.value.trim();
    $.formError.textContent = "";
    if (!name) {
      formErrors({ errors: [{ field: "display_name", reason: "please tell us your name" }] });
      $.name.focus();
      return;
    }
    startToken = startToken || newToken();
    const body = { flow: config.flow, display_name: name, client_token: startToken };
    if (first) body.initial_message = { content_type: "text/plain", content: first };
    if (Object.keys(config.attributes).length) body.attributes = config.attributes;
    $.start.disabled = true;
    $.start.textContent = "Starting…";
    try {
      const response = await fetch(`${BASE}/api/v1/chat/start`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        formErrors(answer, response.status);
        return;
      }
      startToken = null;
      $.first.value = "";
      session = {
        token: answer.participant_token,
        contactId: answer.contact_id,
        participantId: answer.participant_id,
        lastSeq: 0,
      };
      save();
      openChat();
    } catch {
      $.formError.textContent = "We cannot reach the chat service right now. Please try again.";
    } finally {
      $.start.disabled = false;
      $.start.textContent = "Start chat";
    }
  }

  // ---------- the conversation ----------

  function openChat() {
    state.phase = "chat";
    state.ended = false;
    state.agents.clear();
    state.contactId = session.contactId;
    state.participantId = session.participantId;
    $.form.hidden = true;
    $.chat.hidden = false;
    $.end.hidden = false;
    $.end.disabled = false;
    $.again.hidden = true;
    $.input.disabled = false;
    $.send.disabled = false;
    $.messages.replaceChildren();
    transcript = new ChatTranscript($.messages, $.typing, { self: () => conn?.participantId || session?.participantId });
    // since=0 even on a resume: the page is new, so the history is drawn
    // again (the connection and the transcript never show an item twice).
    conn = new ChatConnection({
      base: BASE,
      token: session.token,
      since: 0,
      onWelcome: (w) => {
        state.participantId = w.participant_id;
        state.contactId = w.contact_id;
        if (session) {
          session.participantId = w.participant_id;
          session.contactId = w.contact_id;
          save();
        }
        note = null;
      },
      onItem,
      onTyping: (t) => transcript.showTyping(t),
      onState: (s) => {
        if (s === "ended") showEnded();
        showStatus();
      },
      onError,
      onOutbox: (entries) => transcript.showPending(entries),
    });
    if (state.open) $.input.focus();
    showStatus();
  }

  function onItem(item) {
    const theirs = transcript.add(item);
    if (item.role === "AGENT" && item.type === "JOINED") state.agents.set(item.participant_id, item.display_name);
    if (item.role === "AGENT" && item.type === "LEFT") state.agents.delete(item.participant_id);
    if (session) {
      session.lastSeq = item.seq;
      save();
    }
    if (theirs) {
      conn.receipt(item.seq, "DELIVERED");
      if (seen()) markRead();
      else if (!state.open) {
        state.unread += 1;
        $.unread.textContent = String(state.unread);
        $.unread.hidden = false;
      }
    }
    showStatus();
  }

  function onError(err) {
    if (err.field === "token") {
      // The chat is gone (ended and expired, or unknown): start afresh.
      const drawn = transcript && transcript.seqs.size > 0;
      session = null;
      conn?.close();
      conn = null;
      save();
      if (drawn) {
        showEnded();
        flash(err.message || "This chat is no longer available.", 8000);
      } else {
        showForm("Your previous chat has ended. You can start a new one.");
      }
      return;
    }
    if (err.retry_after_ms != null) {
      const s = Math.max(1, Math.ceil(err.retry_after_ms / 1000));
      flash(`You are sending messages quickly; sending again in ${s} s.`, err.retry_after_ms + 500, "info");
      return;
    }
    flash(err.message || "Something went wrong.");
  }

  function showEnded() {
    state.ended = true;
    $.input.disabled = true;
    $.send.disabled = true;
    $.end.hidden = true;
    $.again.hidden = false;
    transcript?.hideTyping();
    transcript?.scrollToEnd(); // the button took room from the conversation
    showStatus();
  }

  function sendNow() {
    if (!conn || conn.ended) return;
    const text = $.input.value;
    if (!text.trim()) return;
    if (conn.send(text)) $.input.value = "";
    $.input.focus();
  }

  function newChat() {
    conn?.close();
    conn = null;
    transcript = null;
    session = null;
    state.contactId = null;
    state.participantId = null;
    save();
    $.messages.replaceChildren();
    showForm();
    $.first.focus();
  }

  // ---------- events ----------

  $.launcher.addEventListener("click", () => setOpen(!state.open));
  $.minimise.addEventListener("click", () => {
    setOpen(false);
    $.launcher.focus();
  });
  $.end.addEventListener("click", () => {
    if (!conn) return;
    $.end.disabled = true;
    conn.leave();
  });
  $.form.addEventListener("submit", startChat);
  $.send.addEventListener("click", sendNow);
  $.again.addEventListener("click", newChat);
  $.input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a new line; an IME composition is left alone.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendNow();
    }
  });
  $.input.addEventListener("input", () => conn?.typing());
  // Escape minimises, as with most chat widgets.
  $.panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      setOpen(false);
      $.launcher.focus();
    }
  });
  document.addEventListener("visibilitychange", markRead);

  // ---------- start: resume the chat of this tab, if there is one ----------

  session = load();
  if (session?.token) {
    openChat();
  } else {
    session = null;
    showForm();
  }
  let wasOpen = false;
  try {
    wasOpen = sessionStorage.getItem(OPEN_KEY) === "1";
  } catch {
    // no storage: start minimised
  }
  // Reopened as it was, without taking the page's focus.
  setOpen(wasOpen, false);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
