// The supervisors' reports in headless Chromium (/reports): live tiles and
// the agent status board over the WebSocket, historical metrics with their
// chart, usage and cost, and a contact's record, transcript and recording.
//
// Run by crates/switchboard-tests/tests/reports_browser.rs, which sets the
// centre up (agents, chats waiting, stored contact records and agent state
// changes; the expected numbers are worked out there). This script prints
// `STEP LIVE` when the board shows the first state (the Rust side then
// brings Ben back from Lunch) and `STEP DONE` at the end, and exits non-zero
// with `FAIL <why>` when something is wrong. Screenshots go to
// $REPORTS_ARTIFACTS.
//
// Environment: REPORTS_URL, REPORTS_USER, REPORTS_PASSWORD, REPORTS_ARTIFACTS,
// HIST_FROM, HIST_TO (UTC, YYYY-MM-DDTHH:MM), USAGE_FROM, USAGE_TO (UTC days),
// CHAT_CONTACT, VOICE_CONTACT.

import { readFile } from "node:fs/promises";
import { echoErrors, fail, failed, launch, screenshots, step } from "./lib.mjs";

const env = process.env;
const URL_ = env.REPORTS_URL;
const shoot = screenshots(env.REPORTS_ARTIFACTS || "artifacts/reports");

const browser = await launch();
// UTC and en-US: the form's local times are the test's UTC times, and money reads $0.088.
const context = await browser.newContext({
  viewport: { width: 1440, height: 1000 },
  timezoneId: "UTC",
  locale: "en-US",
  acceptDownloads: true,
});
const page = await context.newPage();
echoErrors(page, "reports");

// A message drawn as HTML would fetch ./x.
const fetchedMarkup = [];
page.on("request", (r) => {
  if (new URL(r.url()).pathname.endsWith("/x")) fetchedMarkup.push(r.url());
});

/** Polls `read` until it returns `want` (compared as JSON); fails with what it saw. */
async function until(what, read, want, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let seen;
  for (;;) {
    seen = await read();
    if (JSON.stringify(seen) === JSON.stringify(want)) return;
    if (Date.now() > deadline) fail(`${what}: wanted ${JSON.stringify(want)}, saw ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tiles = () =>
  page.$$eval("#agent-tiles .tile", (all) =>
    Object.fromEntries(all.filter((t) => t.dataset.metric !== "oldest_contact_age").map((t) => [t.dataset.metric, t.querySelector(".value").textContent])));

/** The board as {name: [profile, badge text, bucket]}. */
const board = () =>
  page.$$eval("#board tbody tr", (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.name, [r.querySelector(".profile").textContent, r.querySelector(".badge").textContent, r.querySelector(".badge").dataset.bucket]])));

const timer = (name) => page.textContent(`#board tr[data-name="${name}"] .timer`);

/** The text of each cell of table row `row` (a locator), by data-col. */
const cells = (row) => row.$$eval("td", (tds) => Object.fromEntries(tds.map((td) => [td.dataset.col, td.textContent])));

async function downloaded(button) {
  const [file] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click(button)]);
  return { name: file.suggestedFilename(), text: await readFile(await file.path(), "utf8") };
}

try {
  // ---------- sign in ----------
  await page.goto(`${URL_}/reports`);
  await page.fill("#username", env.REPORTS_USER);
  await page.fill("#password", "not the password");
  await page.click("#login-button");
  await until("a wrong password is refused", () => page.textContent("#login-error").then((t) => t.length > 0), true);
  await page.fill("#password", env.REPORTS_PASSWORD);
  await page.click("#login-button");
  await page.waitForSelector("#workspace:not([hidden])", { timeout: 30000 });

  // ---------- Live ----------
  await page.waitForSelector('#live-connection[data-state="live"]', { timeout: 30000 });
  await until("the tiles", tiles, {
    online: "3", staffed: "3", available: "1", on_contact: "1", after_contact_work: "0",
    non_productive: "1", error: "0", contacts_in_queue: "1",
  });
  await until("the board", board, {
    admin: ["Basic Routing Profile", "Offline", "offline"],
    ana: ["Chat agents", "Available", "available"],
    ben: ["Chat agents", "Lunch", "non_productive"],
    cleo: ["Basic Routing Profile", "Offline", "offline"],
    dan: ["Support desk", "On contact", "on_contact"],
  });
  const queues = await page.$$eval("#queue-table tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  const names = queues.map((q) => q[0]);
  const support = queues.find((q) => q[0] === "Support");
  const sales = queues.find((q) => q[0] === "Sales");
  if (JSON.stringify(names) !== JSON.stringify(["BasicQueue", "Sales", "Support"]) || support[1] !== "1" || support[2] !== "Chat 1" || sales[1] !== "0" || sales[3] !== "—") {
    fail(`the queue table: ${JSON.stringify(queues)}`);
  }
  if (!/^\d+:\d\d$/.test(support[3])) fail(`the oldest contact's age: ${support[3]}`);
  // Per queue, the agents of the profiles taking from it: Dan (on a chat)
  // for Support; Ana (available) and Ben (at lunch) for Sales.
  if (support[4] !== "1" || support[5] !== "0" || sales[4] !== "2" || sales[5] !== "1") {
    fail(`the queue table's agents: ${JSON.stringify(queues)}`);
  }
  // Per routing profile, the contacts waiting in what it takes from.
  const profileRows = await page.$$eval("#profile-table tbody tr", (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.name, r.querySelector('[data-col="in_queue"]').textContent])));
  if (profileRows["Support desk"] !== "1" || profileRows["Chat agents"] !== "0") {
    fail(`the profile table's queues: ${JSON.stringify(profileRows)}`);
  }
  const oldest = await page.textContent('#agent-tiles [data-metric="oldest_contact_age"] .value');
  if (!/^\d+:\d\d$/.test(oldest)) fail(`the oldest contact tile: ${oldest}`);
  // Time in state ticks every second without a new snapshot.
  const before = await timer("ana");
  await until("Ana's time in state ticks", async () => (await timer("ana")) !== before, true, 3000);
  await page.evaluate(() => (window.__samePage = true));
  await shoot(page, "live-dashboard");

  // The Rust side brings Ben back from Lunch: the board follows, no reload.
  step("LIVE");
  await until("Ben back on the board", async () => (await board()).ben, ["Chat agents", "Available", "available"]);
  await until("the tiles after Ben's return", async () => {
    const t = await tiles();
    return [t.available, t.non_productive, t.online];
  }, ["2", "0", "3"]);
  const benSince = await timer("ben");
  if (!/^0:0\d$/.test(benSince)) fail(`Ben's time in state did not restart: ${benSince}`);
  if (!(await page.evaluate(() => window.__samePage))) fail("the page reloaded");
  await shoot(page, "live-updated");

  // ---------- Thresholds: Support's waiting caller crosses its limit ----------
  await page.click("#thresholds-open");
  await page.fill('#thresholds-table tr:has(th:text-is("Support")) input[data-key="waiting"]', "1");
  await page.fill('#thresholds-table tr:has(th:text-is("Sales")) input[data-key="oldest_seconds"]', "600");
  await shoot(page, "thresholds");
  await page.click("#thresholds-save");
  await until("Support needs attention", () => page.getAttribute('#queue-table tr[data-name="Support"]', "data-attention"), "true");
  await until("its waiting count marked", () => page.getAttribute('#queue-table tr[data-name="Support"] td:nth-child(2)', "data-alert"), "true");
  const why = await page.textContent('#queue-table tr[data-name="Support"] [data-col="attention"]');
  if (why !== "1 waiting (limit 1)") fail(`the reason: ${why}`);
  if ((await page.getAttribute('#queue-table tr[data-name="Sales"]', "data-attention")) !== "false") fail("Sales marked with nobody waiting");
  await shoot(page, "live-thresholds");
  // At 1440 px every live card shows its table whole; at 390 px the page
  // itself never scrolls sideways (a wide table scrolls inside its card).
  const clipped = await page.$$eval("#panel-live .card", (cards) => cards.filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.querySelector("h2")?.textContent));
  if (clipped.length) fail(`cards clipped at 1440 px: ${clipped}`);
  await page.setViewportSize({ width: 390, height: 844 });
  await until("the page fits 390 px", () => page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return [];
    // What sticks out, to name it.
    const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
    const inScroller = (e) => { for (let p = e.parentElement; p; p = p.parentElement) if (scrolls(p)) return true; return false; };
    return [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !inScroller(e))
      .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className}`);
  }), []);
  await shoot(page, "live-390");
  await page.setViewportSize({ width: 1440, height: 1000 });
  // Kept for this supervisor: a new page has them.
  await page.reload();
  await page.waitForSelector('#live-connection[data-state="live"]', { timeout: 30000 });
  await until("still marked after a reload", () => page.getAttribute('#queue-table tr[data-name="Support"]', "data-attention"), "true");

  // ---------- Historical ----------
  await page.click("#tab-historical");
  await page.waitForSelector("#panel-historical:not([hidden])");
  // An error from the API shows next to the field it names.
  await page.fill("#hist-from", env.HIST_TO);
  await page.fill("#hist-to", env.HIST_FROM);
  await page.click("#hist-run");
  await until("the error next to To", () => page.textContent('#hist-form .field-error[data-error-for="to"]'), "must be after from");
  await page.fill("#hist-from", env.HIST_FROM);
  await page.fill("#hist-to", env.HIST_TO);
  await page.selectOption("#hist-interval", "hour");
  await page.selectOption("#hist-group", "queue");
  await page.fill("#hist-levels", "20,60");
  await page.click("#hist-run");
  const rows = async () => {
    const all = await page.$$("#hist-table tbody tr");
    return Promise.all(all.map(cells));
  };
  const pick = (r) => [r.group, r.queued, r.handled, r.abandoned, r.aht, r.asa, r["abandon-time"], r["sl-20"], r["sl-60"]];
  await until("the hourly rows", async () => (await rows()).map(pick), [
    ["Sales", "3", "2", "1", "3:35", "0:30", "1:00", "33.3%", "66.7%"],
    ["Sales", "1", "1", "0", "5:25", "0:05", "—", "100%", "100%"],
  ]);
  if (await page.textContent('#hist-form .field-error[data-error-for="to"]')) fail("the error stayed after a good run");
  // The chart: a canvas with something drawn on it.
  await page.waitForSelector("#hist-chart canvas", { timeout: 30000 });
  const inked = await page.$eval("#hist-chart canvas", (c) => {
    const { data } = c.getContext("2d").getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return { n, width: c.width, height: c.height };
  });
  if (inked.width < 300 || inked.n < 500) fail(`the chart looks empty: ${JSON.stringify(inked)}`);
  const legend = await page.$$eval("#hist-chart .u-legend .u-label", (ls) => ls.map((l) => l.textContent));
  for (const label of ["Handled", "Abandoned", "Avg handle time"]) {
    if (!legend.includes(label)) fail(`the chart's legend lacks ${label}: ${JSON.stringify(legend)}`);
  }
  await shoot(page, "historical");
  const hcsv = await downloaded("#hist-csv");
  if (hcsv.name !== "historical-metrics.csv" || !hcsv.text.includes("service_level_20,service_level_60") || !hcsv.text.includes(",Sales,3,2,1,0,215.00,")) {
    fail(`the historical CSV: ${hcsv.name}\n${hcsv.text}`);
  }
  // By agent over the whole period: Ana's occupancy from her state changes.
  await page.selectOption("#hist-interval", "total");
  await page.selectOption("#hist-group", "agent");
  await page.click("#hist-run");
  await until("Ana's row", async () => {
    const ana = (await rows()).find((r) => r.group === "ana");
    return ana ? [ana.handled, ana.aht, ana.occupancy] : null;
  }, ["2", "3:35", "13.9%"]);

  // ---------- Usage & cost ----------
  await page.click("#tab-usage");
  await page.fill("#usage-from", env.USAGE_FROM);
  await page.fill("#usage-to", env.USAGE_TO);
  await page.click("#usage-run");
  await until("the total", () => page.textContent("#usage-total"), "$0.088");
  const footer = await page.$$eval("#usage-total-row td", (tds) => tds.map((td) => td.textContent));
  if (footer[0] !== "Total (USD)" || footer.at(-1) !== "$0.088") fail(`the total row: ${JSON.stringify(footer)}`);
  const unrated = await page.$$eval("#usage-unrated:not([hidden]) li", (ls) => ls.map((l) => l.textContent));
  for (const item of ["inbound minutes on DID numbers in US", "days of +12025550123 (US)"]) {
    if (!unrated.includes(item)) fail(`the unrated warning lacks '${item}': ${JSON.stringify(unrated)}`);
  }
  await shoot(page, "usage");
  const ucsv = await downloaded("#usage-csv");
  if (!ucsv.text.startsWith("date,contacts,voice_minutes") || !ucsv.text.includes(",USD")) fail(`the usage CSV: ${ucsv.text}`);

  // ---------- Contacts ----------
  await page.click("#tab-contacts");
  const chatRow = `#contacts-table tr[data-contact="${env.CHAT_CONTACT}"]`;
  await page.waitForSelector(chatRow, { timeout: 30000 });
  const listed = await page.$$eval(`${chatRow} td`, (tds) => tds.map((td) => td.textContent));
  // Codes in words, each code in its cell's tooltip.
  if (listed[1] !== "Chat" || listed[2] !== "API" || listed[3] !== "Grace" || listed[4] !== "Sales" || listed[5] !== "ana" || listed[6] !== "3:30" || listed[7] !== "Agent hung up") {
    fail(`the chat's row: ${JSON.stringify(listed)}`);
  }
  const tooltip = await page.getAttribute(`${chatRow} td:nth-child(8)`, "title");
  if (tooltip !== "AGENT_DISCONNECT") fail(`the reason's tooltip: ${tooltip}`);
  await page.click(chatRow);
  await page.waitForSelector(`#contact-detail[data-contact="${env.CHAT_CONTACT}"][data-loaded]`, { timeout: 30000 });
  const said = await page.$$eval("#transcript-list .msg .bubble", (bs) => bs.map((b) => b.textContent));
  const IMG = `<img src=x onerror="window.__pwned=1">`;
  const expected = ["Where is my order A-1042?", "Thank you for contacting us.", "Hi Grace, let me look.", IMG, "It ships tomorrow."];
  if (JSON.stringify(said) !== JSON.stringify(expected)) fail(`the transcript: ${JSON.stringify(said)}`);
  if (fetchedMarkup.length || (await page.evaluate(() => window.__pwned)) !== undefined) fail("a chat message was drawn as HTML");
  const cost = await page.$$eval("#contact-cost dd", (dds) => dds.map((d) => d.textContent));
  if (!cost.includes("$0.02")) fail(`the chat's cost: ${JSON.stringify(cost)}`);
  const meta = await page.textContent("#contact-meta");
  if (!meta.includes("A-1042") || !meta.includes("AGENT_DISCONNECT")) fail(`the chat's record: ${meta}`);
  await shoot(page, "contact-chat");

  await page.click(`#contacts-table tr[data-contact="${env.VOICE_CONTACT}"]`);
  await page.waitForSelector(`#contact-detail[data-contact="${env.VOICE_CONTACT}"][data-loaded]`, { timeout: 30000 });
  const error = await page.textContent("#contact-error");
  if (error) fail(`the call's detail: ${error}`);
  // With the detail open at 1440 px the table is still whole.
  const cut = await page.$eval("#contacts-table", (t) => t.scrollWidth > t.parentElement.clientWidth + 1);
  if (cut) fail("the contacts table is cut off beside the detail");
  const audio = await page.$eval("#recording-player", (a) => new Promise((resolve) => {
    const done = () => resolve({ src: a.src, duration: a.duration, ready: a.readyState });
    if (a.readyState >= 1) done();
    else {
      a.addEventListener("loadedmetadata", done, { once: true });
      a.addEventListener("error", done, { once: true });
      setTimeout(done, 30000);
    }
  }));
  if (!audio.src.startsWith("blob:") || Math.abs(audio.duration - 1) > 0.05) fail(`the recording: ${JSON.stringify(audio)}`);
  const voiceCost = await page.$$eval("#contact-cost dd", (dds) => dds.map((d) => d.textContent));
  if (!voiceCost.includes("$0.009") || !voiceCost.some((c) => c.includes("inbound minutes on DID numbers in US"))) {
    fail(`the call's cost: ${JSON.stringify(voiceCost)}`);
  }
  await shoot(page, "contact-detail");

  // Search: chats only, then by the time an agent was connected and words of
  // the transcript, then by agent; the CSV holds what the search found.
  const found = () => page.$$eval("#contacts-table tbody tr", (trs) => trs.map((tr) => [tr.dataset.contact, tr.cells[1].textContent]));
  const searched = async (what, want) => {
    await page.click("#contacts-run");
    await until(what, async () => (await found()).map(([id]) => id), want);
  };
  await page.waitForSelector('#contacts-form[data-choices="ready"]', { timeout: 30000 });
  await page.selectOption("#contacts-channel", "CHAT");
  await page.click("#contacts-run");
  await until("chats only", async () => {
    const seen = await found();
    return seen.some(([id]) => id === env.CHAT_CONTACT) && seen.every(([, channel]) => channel === "Chat");
  }, true);
  const csv = await downloaded("#contacts-csv");
  if (!csv.text.startsWith("id,channel,") || !csv.text.includes(env.CHAT_CONTACT) || csv.text.includes(env.VOICE_CONTACT)) {
    fail(`the contacts CSV: ${csv.text}`);
  }
  await page.selectOption("#contacts-channel", "");
  await page.selectOption("#contacts-time", "connected_to_agent");
  await page.fill("#contacts-text", "a-1042");
  await searched("by agent time and transcript words", [env.CHAT_CONTACT]);
  await page.fill("#contacts-text", "no such words");
  await searched("words nobody wrote", []);
  await page.fill("#contacts-text", "");
  await page.selectOption("#contacts-time", "initiated");
  await page.selectOption("#contacts-agent", { label: "ana" });
  await until("ana's contacts", async () => {
    await page.click("#contacts-run");
    return (await found()).some(([id]) => id === env.CHAT_CONTACT);
  }, true);
  await page.fill("#contacts-attribute", "nonsense");
  await page.click("#contacts-run");
  await until("the attribute's error", () => page.textContent('#contacts-form .field-error[data-error-for="attribute"]'), "write it as name:value");
  await shoot(page, "contact-search");

  step("DONE");
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
