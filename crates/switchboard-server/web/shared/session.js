// What every Switchboard page shares: DOM helpers, the API with its bearer
// token, the sign-in form, and errors shown beside the fields they name.
// Served once at /shared/session.js and imported by the console, the
// designer, the reports and the CCP.
//
// Everything the server sends is drawn with textContent, never as HTML.

/** The REST API's root. */
export const API = "/api/v1";

/**
 * Where the staff pages (console, designer, reports) keep their sign-in:
 * one key for all of them, so a link between them keeps it.
 */
export const STAFF_TOKEN_KEY = "switchboard.staff.token";

/** The element with `id`. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element. `attrs`: `text` sets the text, `class` the class, `value`
 * the value property, `onclick` a click listener; `true` makes an empty
 * attribute; `undefined`, `null` and `false` are left out, as are
 * `null`/`undefined` children.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k === "value") node.value = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** A request that failed: the HTTP status (0: not reached) and the API's error body. */
export class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message || `Switchboard answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/**
 * One signed-in user's token, kept in sessionStorage under `tokenKey` (the
 * staff pages share one key, so a link between them keeps the sign-in).
 * `onExpired(message)` runs when the server no longer takes the token.
 */
export class Session {
  constructor(tokenKey, onExpired) {
    this.tokenKey = tokenKey;
    this.onExpired = onExpired;
  }

  /** The bearer token, or null when signed out. */
  token() {
    return sessionStorage.getItem(this.tokenKey);
  }

  /** Forgets the token (the server is not told). */
  forget() {
    sessionStorage.removeItem(this.tokenKey);
  }

  /**
   * A request with the bearer token. JSON back; null for 204; the raw
   * response with `raw`. `body` is sent as JSON, `form` as it is.
   * Throws ApiFailure.
   */
  async api(path, { raw = false, method = "GET", body, form, headers: extra } = {}) {
    const headers = { authorization: `Bearer ${this.token()}`, ...extra };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(`${API}${path}`, {
        method,
        headers,
        body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
    } catch (e) {
      throw new ApiFailure(0, { message: `Switchboard cannot be reached: ${e.message}` });
    }
    if (response.status === 401) {
      this.forget();
      this.onExpired("Your session has ended: sign in again.");
      throw new ApiFailure(401, { message: "signed out" });
    }
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new ApiFailure(response.status, error);
    }
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }

  /** Signs in and keeps the token. Throws ApiFailure with a message to show. */
  async signIn(username, password) {
    let response;
    try {
      response = await fetch(`${API}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
    } catch (e) {
      throw new ApiFailure(0, { message: `Switchboard cannot be reached: ${e.message}` });
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiFailure(response.status, {
        ...body,
        message: body.message || `Sign-in failed (${response.status})`,
      });
    }
    sessionStorage.setItem(this.tokenKey, body.token);
  }

  /** Forgets the token and ends the session on the server. */
  async signOut() {
    const token = this.token();
    this.forget();
    if (token) {
      await fetch(`${API}/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(
        () => {},
      );
    }
  }
}

/**
 * Wires the page's sign-in form (#login-form with #username, #password,
 * #login-button and #login-error, the same on every page): on success the
 * password is cleared and `onSignedIn()` runs.
 */
export function wireSignIn(session, onSignedIn) {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    $("login-button").disabled = true;
    try {
      await session.signIn($("username").value, $("password").value);
      $("password").value = "";
      await onSignedIn();
    } catch (e) {
      $("login-error").textContent = e.message;
    } finally {
      $("login-button").disabled = false;
    }
  });
}

/** Shows the sign-in form (hiding #workspace) with `message`. */
export function showSignIn(message) {
  $("workspace").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("username").focus();
}

/**
 * Shows `failure`'s errors beside the fields they name. A field's slot is
 * the `.field-error[data-error-for="<field>"]` in `form`, or that of its
 * closest named ancestor (`queue_configs[0].delay` falls back to
 * `queue_configs[0]`, then `queue_configs`); its input (`[data-path]`, or
 * the slot's label's) is marked invalid and the first one focused. The
 * server's message, and errors with no slot, go into `general`.
 */
export function showErrors(form, failure, general) {
  const errors = failure.body?.errors?.length ? failure.body.errors : [];
  const lines = [];
  if (failure.body?.message || !errors.length) lines.push(failure.message);
  for (const { field, reason } of errors) {
    let path = field;
    let slot = null;
    while (path) {
      slot = form.querySelector(`.field-error[data-error-for="${CSS.escape(path)}"]`);
      if (slot) break;
      const cut = path.match(/^(.*)(\.[^.[\]]+|\[\d+\])$/);
      path = cut ? cut[1] : "";
    }
    if (slot) {
      slot.textContent = path === field ? reason : `${field}: ${reason}`;
      const input =
        form.querySelector(`[data-path="${CSS.escape(path)}"]`) ||
        slot.closest("label")?.querySelector("input, select, textarea");
      input?.setAttribute("aria-invalid", "true");
      if (input && !form.querySelector("[aria-invalid]:focus")) input.focus?.();
    } else {
      const line = field === "*" ? reason : `${field}: ${reason}`;
      if (!lines.includes(line)) lines.push(line);
    }
  }
  general.replaceChildren();
  lines.forEach((line, i) => {
    if (i) general.append(el("br"));
    general.append(el("span", { class: "block", text: line }));
  });
}

/** Clears what showErrors wrote in `form` and `general`. */
export function clearErrors(form, general) {
  general.textContent = "";
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}
