// Switchboard chat: one participant's connection, shared by the customer's
// widget and the agent's CCP. See docs/chat-protocol.md for the frames.
//
// The server keeps every item (message, join, leave, receipt, end) under a
// sequence number; after a drop we say hello again with the last one we saw
// and get exactly what we missed. Messages go through an outbox and keep
// their client token until the server says `sent`, so a resend after a
// reconnect is kept once.

const PING_EVERY_MS = 20000;
// A socket that heard nothing (not even a pong) this long is taken as dead:
// a half-open connection after a network change closes nothing by itself.
const SILENT_MS = 45000;
const TYPING_EVERY_MS = 3000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

export function newToken() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // Older browsers and plain-http pages without randomUUID.
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function socketUrl(base) {
  const url = new URL("/api/v1/chat/connect", base || location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

const noop = () => {};

export class ChatConnection {
  constructor({ base = "", token, since = 0, onItem, onTyping, onState, onError, onWelcome, onOutbox } = {}) {
    this.url = socketUrl(base);
    this.token = token;
    this.lastSeq = since;
    this.ended = false;
    this.refused = false; // the token was refused: reconnecting cannot help
    this.closed = false; // close() was called
    this.participantId = null;
    this.role = null;
    this.displayName = null;
    this.limits = { max_message_bytes: 4096 };
    this.state = "connecting";
    // Messages not yet confirmed by `sent`, in the order they were written.
    this.outbox = [];
    this.cb = {
      onItem: onItem || noop,
      onTyping: onTyping || noop,
      onState: onState || noop,
      onError: onError || noop,
      onWelcome: onWelcome || noop,
      onOutbox: onOutbox || noop,
    };
    this.socket = null;
    this.ready = false; // welcome received on the current socket
    this.caughtUp = false; // every item up to welcome.last_seq has arrived
    this.welcomeSeq = 0;
    this.retry = 0;
    this.retryTimer = null;
    this.pausedUntil = 0; // a rate limit holds the outbox until then
    this.flushTimer = null;
    this.typingAt = 0;
    this.receiptsSent = new Set(); // "seq:KIND", each sent once
    this.receiptsWaiting = [];
    this.leaving = false;
    this.heardAt = Date.now();
    this.pinger = setInterval(() => this.#ping(), PING_EVERY_MS);
    this.#open();
  }

  // ---------- what the page calls ----------

  /** Queues a message; returns its client token, or null if it cannot be sent. */
  send(text, contentType = "text/plain") {
    if (this.ended || this.refused || this.closed) return null;
    if (!text || !text.trim()) return null;
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > this.limits.max_message_bytes) {
      this.cb.onError({ field: "content", message: `The message is too long (${bytes} bytes; at most ${this.limits.max_message_bytes}).` });
      return null;
    }
    const entry = { client_token: newToken(), content_type: contentType, content: text, inflight: false, seen: false };
    this.outbox.push(entry);
    this.#outboxChanged();
    this.#flush();
    return entry.client_token;
  }

  /** Says "I am typing"; at most once per 3 s, never queued. */
  typing() {
    const now = Date.now();
    if (!this.ready || this.ended || now - this.typingAt < TYPING_EVERY_MS) return;
    this.typingAt = now;
    this.#frame({ type: "typing" });
  }

  /** A DELIVERED or READ receipt for message `seq`, sent once per (seq, kind). */
  receipt(seq, kind) {
    const key = `${seq}:${kind}`;
    // A READ covers the delivery too (the server keeps no delivery after it).
    if (this.receiptsSent.has(key) || this.receiptsSent.has(`${seq}:READ`) || this.ended) return;
    // Until the history has replayed we may not yet know the receipts we
    // already gave (they come after the message), so they wait.
    // A receipt said while the socket is down waits for the next one.
    if (!this.caughtUp || !this.ready || !this.#frame({ type: "receipt", seq, kind })) {
      if (!this.receiptsWaiting.includes(key)) this.receiptsWaiting.push(key);
      return;
    }
    this.receiptsSent.add(key);
  }

  /** Leaves the chat (the customer ends it; an agent ends their part). */
  leave() {
    if (this.ended || this.closed) return;
    this.leaving = true;
    if (this.ready) this.#frame({ type: "leave" });
    // Otherwise it is said after the next welcome.
  }

  /** Stops for good: no reconnect, no more callbacks. */
  close() {
    this.closed = true;
    clearInterval(this.pinger);
    clearTimeout(this.retryTimer);
    clearTimeout(this.flushTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
    this.#setState("closed");
  }

  // ---------- the socket ----------

  #open() {
    if (this.closed) return;
    this.ready = false;
    this.caughtUp = false;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (e) {
      this.cb.onError({ field: "connection", message: `Cannot connect: ${e.message}` });
      this.#reconnectLater();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.heardAt = Date.now();
      socket.send(JSON.stringify({ type: "hello", token: this.token, since: this.lastSeq }));
    };
    socket.onmessage = (m) => {
      if (this.socket !== socket) return;
      this.heardAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(m.data);
      } catch {
        return;
      }
      this.#onFrame(frame);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      this.caughtUp = false;
      for (const e of this.outbox) e.inflight = false;
      if (this.closed) return;
      if (this.ended || this.refused) {
        clearInterval(this.pinger);
        return;
      }
      this.#setState("reconnecting");
      this.#reconnectLater();
    };
  }

  #reconnectLater() {
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.retry++);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#open(), wait);
  }

  #frame(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  #ping() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.heardAt > SILENT_MS) {
      this.socket.close(); // onclose reconnects
      return;
    }
    this.#frame({ type: "ping" });
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.cb.onState(state);
  }

  #onFrame(f) {
    switch (f.type) {
      case "welcome":
        this.retry = 0;
        this.ready = true;
        this.participantId = f.participant_id;
        this.role = f.role;
        this.displayName = f.display_name;
        this.contactId = f.contact_id;
        if (f.limits?.max_message_bytes) this.limits = f.limits;
        this.welcomeSeq = f.last_seq || 0;
        this.cb.onWelcome(f);
        if (f.ended) this.#markEnded();
        else this.#setState("connected");
        this.#checkCaughtUp();
        if (this.leaving && !this.ended) this.#frame({ type: "leave" });
        this.#flush();
        break;
      case "item":
        this.#onItem(f.item);
        break;
      case "typing":
        if (f.participant_id !== this.participantId) this.cb.onTyping(f);
        break;
      case "sent": {
        const i = this.outbox.findIndex((e) => e.client_token === f.client_token);
        if (i >= 0) {
          this.outbox.splice(i, 1);
          this.#outboxChanged();
        }
        break;
      }
      case "error":
        this.#onError(f);
        break;
      default:
        break; // pong and anything newer
    }
  }

  #onItem(item) {
    if (!item || typeof item.seq !== "number") return;
    if (item.seq <= this.lastSeq) return; // seen already: never shown twice
    this.lastSeq = item.seq;
    // Our own receipts in the history: do not send them again.
    if (item.type === "RECEIPT" && item.participant_id === this.participantId) {
      this.receiptsSent.add(`${item.message}:${item.kind}`);
    }
    // Our own message is in: its outbox entry only waits for `sent` now, so
    // the page can stop showing it as pending.
    if (item.type === "MESSAGE" && item.participant_id === this.participantId) {
      const pending = this.outbox.find((e) => !e.seen && e.content === item.content);
      if (pending) {
        pending.seen = true;
        this.#outboxChanged();
      }
    }
    this.cb.onItem(item);
    if (item.type === "ENDED") this.#markEnded();
    this.#checkCaughtUp();
  }

  #checkCaughtUp() {
    if (this.caughtUp || !this.ready || this.lastSeq < this.welcomeSeq) return;
    this.caughtUp = true;
    const waiting = this.receiptsWaiting;
    this.receiptsWaiting = [];
    for (const key of waiting) {
      const [seq, kind] = key.split(":");
      this.receipt(Number(seq), kind);
    }
  }

  #markEnded() {
    if (this.ended) return;
    this.ended = true;
    this.receiptsWaiting = [];
    clearTimeout(this.flushTimer);
    // Nothing more is kept after the end: what is still unsent is lost.
    const unsent = this.outbox.filter((e) => !e.seen);
    this.outbox = [];
    this.#outboxChanged();
    if (unsent.length) {
      this.cb.onError({ field: "ended", message: "The chat ended before your last message was sent." });
    }
    this.#setState("ended");
  }

  #onError(f) {
    if (f.field === "token") {
      this.refused = true;
      clearTimeout(this.retryTimer);
      this.#setState("refused");
      this.cb.onError(f);
      return;
    }
    const entry = f.client_token ? this.outbox.find((e) => e.client_token === f.client_token) : null;
    if (f.retry_after_ms != null) {
      // Too fast: hold the outbox and send it again, in order, after the wait.
      const affected = entry ? [entry] : this.outbox.filter((e) => e.inflight);
      for (const e of affected) e.inflight = false;
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + f.retry_after_ms);
      clearTimeout(this.flushTimer);
      this.flushTimer = setTimeout(() => this.#flush(), this.pausedUntil - Date.now());
      this.cb.onError(f, entry);
      return;
    }
    if (entry) {
      // Refused for good (empty, too long, chat over): keeping it would
      // only repeat the refusal on every reconnect.
      this.outbox.splice(this.outbox.indexOf(entry), 1);
      this.#outboxChanged();
    }
    this.cb.onError(f, entry);
  }

  #flush() {
    if (!this.ready || this.ended) return;
    if (Date.now() < this.pausedUntil) return; // the timer flushes later
    for (const e of this.outbox) {
      if (e.inflight) continue;
      const ok = this.#frame({ type: "send", content_type: e.content_type, content: e.content, client_token: e.client_token });
      if (!ok) return;
      e.inflight = true;
    }
  }

  #outboxChanged() {
    this.cb.onOutbox(this.outbox.filter((e) => !e.seen));
  }
}

// ---------- drawing a conversation ----------
//
// The widget and the CCP show a chat the same way, so the drawing is here
// too; each page styles it. Content is only ever set with textContent.

const timeFormat = { hour: "2-digit", minute: "2-digit" };

function make(tag, cls, attrs = {}) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export class ChatTranscript {
  /**
   * list: the scrolling element (data-sb=messages); typing: the typing line.
   * self(): this page's participant id. others: which roles' messages get
   * our receipts (the agent acknowledges only the customer).
   */
  constructor(list, typing, { self, receiptsFor = () => true } = {}) {
    this.list = list;
    this.typing = typing;
    this.self = self || (() => null);
    this.receiptsFor = receiptsFor;
    this.seqs = new Set();
    this.bubbles = new Map(); // seq -> message element
    this.unread = []; // seqs of others' messages not yet marked READ
    this.typingTimer = null;
    this.typingWho = null;
    this.pendingBox = make("div", "sb-pending-box");
    this.list.append(this.pendingBox);
    if (this.typing) this.typing.hidden = true;
  }

  /** Draws one item; returns it when it is someone else's message (for receipts). */
  add(item) {
    if (this.seqs.has(item.seq)) return null;
    this.seqs.add(item.seq);
    const mine = item.participant_id === this.self();
    const atBottom = this.#atBottom();
    let node = null;
    let theirs = null;
    switch (item.type) {
      case "MESSAGE": {
        node = make("div", "sb-msg", {
          "data-sb": "item",
          "data-seq": item.seq,
          "data-role": item.role,
          "data-type": item.type,
          "data-mine": String(mine),
        });
        const meta = make("div", "sb-meta");
        const name = make("span", "sb-name");
        name.textContent = mine ? "You" : item.display_name || String(item.role || "").toLowerCase();
        const time = make("time", "sb-time", { datetime: new Date(item.at_ms).toISOString() });
        time.textContent = new Date(item.at_ms).toLocaleTimeString([], timeFormat);
        meta.append(name, " · ", time);
        const content = make("div", "sb-bubble", { "data-sb": "content" });
        content.textContent = item.content; // text only, whatever the content type
        node.append(meta, content);
        if (mine) node.append(make("div", "sb-receipt", { "data-sb": "receipt" }));
        this.bubbles.set(item.seq, node);
        if (!mine && this.receiptsFor(item)) {
          theirs = item;
          this.unread.push(item.seq);
        }
        if (this.typingWho === item.participant_id) this.hideTyping();
        break;
      }
      case "JOINED":
      case "LEFT":
        // Our own comings and goings and the flow's are noise to the reader.
        if (mine || item.role === "SYSTEM") break;
        node = this.#notice(item, `${item.display_name} ${item.type === "JOINED" ? "joined" : "left"} the chat`);
        if (item.type === "LEFT" && this.typingWho === item.participant_id) this.hideTyping();
        break;
      case "ENDED":
        node = this.#notice(item, "Chat ended");
        node.title = item.reason || "";
        this.hideTyping();
        break;
      case "RECEIPT": {
        const bubble = this.bubbles.get(item.message);
        if (bubble && !mine && bubble.dataset.mine === "true") {
          const mark = bubble.querySelector("[data-sb=receipt]");
          if (item.kind === "READ") {
            mark.textContent = "Read";
            mark.dataset.kind = "READ";
          } else if (mark.dataset.kind !== "READ") {
            mark.textContent = "Delivered";
            mark.dataset.kind = "DELIVERED";
          }
        }
        break;
      }
      default:
        break;
    }
    if (node) {
      this.list.insertBefore(node, this.pendingBox);
      if (atBottom || mine) this.scrollToEnd();
    } else if (atBottom) {
      this.scrollToEnd(); // a "Read" under the last message is still seen
    }
    return theirs;
  }

  /** Seqs of others' messages not yet read; they count as read once returned. */
  takeUnread() {
    const seqs = this.unread;
    this.unread = [];
    return seqs;
  }

  /** Messages written here but not yet kept, shown greyed after the rest. */
  showPending(entries) {
    const atBottom = this.#atBottom();
    this.pendingBox.replaceChildren(
      ...entries.map((e) => {
        const node = make("div", "sb-msg sb-pending", { "data-sb": "pending", "data-mine": "true" });
        const meta = make("div", "sb-meta");
        meta.textContent = "Sending…";
        const content = make("div", "sb-bubble");
        content.textContent = e.content;
        node.append(meta, content);
        return node;
      }),
    );
    if (atBottom || entries.length) this.scrollToEnd();
  }

  showTyping(t) {
    if (!this.typing) return;
    this.typingWho = t.participant_id;
    this.typing.textContent = `${t.display_name || "Someone"} is typing…`;
    this.typing.hidden = false;
    clearTimeout(this.typingTimer);
    // Typing is not kept and has no "stopped": it fades on its own.
    this.typingTimer = setTimeout(() => this.hideTyping(), 4000);
  }

  hideTyping() {
    if (!this.typing) return;
    clearTimeout(this.typingTimer);
    this.typingWho = null;
    this.typing.hidden = true;
    this.typing.textContent = "";
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  #notice(item, text) {
    const node = make("div", "sb-notice", {
      "data-sb": "notice",
      "data-seq": item.seq,
      "data-role": item.role,
      "data-type": item.type,
    });
    const content = make("span", "", { "data-sb": "content" });
    content.textContent = text;
    node.append(content);
    return node;
  }

  #atBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
  }
}
