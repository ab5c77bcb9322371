// What the browser tests (ccp.mjs, chat.mjs) share: Debian's Chromium with
// the flags they need, the STEP/FAIL protocol with the Rust side, the lines
// the Rust side writes back, screenshots, and signing in to the CCP.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** Tells the Rust side a step is reached (it may act, or just follow). */
export const step = (name) => console.log(`STEP ${name}`);

/** Fails the run: the Rust side panics on a `FAIL` line. */
export function fail(why) {
  console.log(`FAIL ${why}`);
  process.exitCode = 1;
  throw new Error(why);
}

/** Reports an exception caught at the top of a script (unless `fail` did already). */
export function failed(e) {
  if (!process.exitCode) console.log(`FAIL ${e.message.split("\n")[0]}`);
  process.exitCode = 1;
}

/** Headless Chromium with a fake microphone and no first-run noise (`extra`: more flags). */
export function launch(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      ...extra,
      "--headless",
      "--no-sandbox",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--autoplay-policy=no-user-gesture-required",
      "--allow-loopback-in-peer-connection",
    ],
  });
}

/** Lines the Rust side writes to us: `waitFor(word)` returns when it says `word`. */
export function fromRust() {
  const stdin = createInterface({ input: process.stdin });
  const said = stdin[Symbol.asyncIterator]();
  return {
    async waitFor(word) {
      for (;;) {
        const { value, done } = await said.next();
        if (done) fail(`stdin closed while waiting for ${word}`);
        if (value.trim() === word) return;
      }
    },
    close: () => stdin.close(),
  };
}

/**
 * `shoot(page, name)` saves `NN-name.png` in `dir` (numbered in order), and
 * runs axe-core on the page as shot: a serious or critical violation fails
 * the run (the counts go to the log, `AXE` lines).
 */
export function screenshots(dir) {
  mkdirSync(dir, { recursive: true });
  let shot = 0;
  return async (page, name) => {
    shot += 1;
    await page.screenshot({ path: join(dir, `${String(shot).padStart(2, "0")}-${name}.png`) });
    const bad = await axe(page, name).catch((e) => [`axe did not run: ${e.message.split("\n")[0]}`]);
    if (bad.length) fail(`axe on ${name}: ${bad.join("; ")}`);
  };
}

/** Fills in the CCP's sign-in form (the page is at /ccp) and submits it. */
export async function submitSignIn(page, user, password) {
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.click("#login-button");
}

/** Opens the CCP at `base` and signs in; returns once the workspace shows. */
export async function signIn(page, base, user, password) {
  await page.goto(`${base}/ccp`);
  await submitSignIn(page, user, password);
  await page.waitForSelector("#workspace:not([hidden])", { timeout: 30000 });
}

/** Waits for the CCP to show the agent in `state` (Available, OnContact...). */
export const agentState = (page, state, timeout = 30000) =>
  page.waitForSelector(`#agent-status[data-state="${state}"]`, { timeout });

/** Passes the page's console errors and failed requests on (prefixed `who`) for the test's log. */
export function echoErrors(page, who = "browser") {
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const where = m.location()?.url;
    console.log(`${who}: ${m.text()}${where ? ` (${where})` : ""}`);
  });
  page.on("pageerror", (e) => console.log(`${who}: uncaught ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) console.log(`${who}: ${r.status()} ${r.request().method()} ${r.url()}`);
  });
}

/**
 * Runs axe-core (pinned in package.json) on the page as it is now and
 * returns its serious and critical violations, each as `id (impact): n
 * node(s)`; `label` names the page state in the log line it prints.
 */
export async function axe(page, label) {
  const { createRequire } = await import("node:module");
  const source = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
  const { readFileSync } = await import("node:fs");
  // Evaluated, not added as a <script>: the pages' CSP allows no inline script.
  await page.evaluate(readFileSync(source, "utf8"));
  const results = await page.evaluate(async () => {
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = results.filter((v) => v.impact === "serious" || v.impact === "critical");
  console.log(`AXE ${label}: ${results.length} violation(s), ${bad.length} serious or critical`);
  return bad.map((v) => `${v.id} (${v.impact}): ${v.nodes} node(s): ${v.where.join(", ")}`);
}

// The softphone's audio travels in Opus both ways (the server prefers it;
// G.711 would mean the browser leg's transcoding was never exercised).
export async function expectOpus(page, who) {
  const stats = await page.evaluate(() => window.ccpAudioStats());
  const codecs = [stats?.inbound?.codec, stats?.outbound?.codec];
  console.log(`${who} codecs: in ${codecs[0]}, out ${codecs[1]}`);
  if (!codecs.every((c) => String(c).toLowerCase() === "audio/opus")) {
    fail(`${who}: the softphone's audio is not Opus both ways: ${codecs.join(", ")}`);
  }
}
