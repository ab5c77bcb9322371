// The administrators' console in Chromium (driven by console_browser.rs):
// the admin creates a queue (after a refused one whose error shows next to
// its field), a routing profile on it, an agent on that profile and a phone
// number running a flow, and a prompt (a refused file, then a WAV uploaded
// and played back); then the agent signs in and sees only what they may.
// Prints STEP lines; screenshots land in CONSOLE_ARTIFACTS.

import { readFileSync } from "node:fs";
import { launch, step, fail, failed, screenshots, echoErrors } from "./lib.mjs";

const base = process.env.CONSOLE_URL;
const admin = [process.env.CONSOLE_USER, process.env.CONSOLE_PASSWORD];
const agentPassword = process.env.AGENT_PASSWORD;
const flowName = process.env.FLOW_NAME || "";
const number = process.env.PHONE_NUMBER;
const botZip = process.env.BOT_ZIP;
const shoot = screenshots(process.env.CONSOLE_ARTIFACTS);
const T = { timeout: 30000 };

async function signIn(page, user, password) {
  await page.goto(`${base}/console`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.click("#login-button");
  await page.waitForSelector("#workspace:not([hidden]) #nav button", T);
}

async function openKind(page, kind) {
  await page.click(`#nav button[data-kind="${kind}"]`);
  await page.waitForSelector(`#list-table[data-kind="${kind}"][data-ready="true"]`, T);
}

async function newObject(page, kind) {
  await openKind(page, kind);
  await page.click("#create");
  await page.waitForSelector(`#object-form[data-kind="${kind}"][data-mode="create"][data-ready="true"]`, T);
}

const input = (path) => `#object-form [data-path="${path}"]`;

async function saved(page, kind, name) {
  await page.waitForSelector(`#list-table[data-kind="${kind}"][data-ready="true"] tr[data-name="${name}"]`, T);
}

/** A mono 16-bit PCM WAV of a 440 Hz tone. */
function toneWav(seconds, rate) {
  const samples = Math.round(seconds * rate);
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write("RIFF", 0); wav.writeUInt32LE(36 + samples * 2, 4); wav.write("WAVE", 8);
  wav.write("fmt ", 12); wav.writeUInt32LE(16, 16); wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(rate, 24); wav.writeUInt32LE(rate * 2, 28); wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34);
  wav.write("data", 36); wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return wav;
}

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  echoErrors(page, "console");
  if (process.env.CONSOLE_FROM_DISK) {
    // Development only: serve the page's files from the working tree.
    for (const f of ["console.js", "console.css", "index.html"]) {
      const url = f === "index.html" ? `${base}/console` : `${base}/console/${f}`;
      const type = { js: "text/javascript", css: "text/css", html: "text/html" }[f.split(".").pop()];
      await page.route(url, (r) => r.fulfill({ contentType: type, body: readFileSync(`${process.env.CONSOLE_FROM_DISK}/${f}`) }));
    }
  }

  await signIn(page, ...admin);
  const kinds = await page.$$eval("#nav button", (b) => b.map((x) => x.dataset.kind));
  if (kinds.length !== 15) fail(`the admin sees ${kinds.length} kinds: ${kinds}`);
  await shoot(page, "signed-in");
  step("SIGNED_IN");

  // A queue: first refused (max_contacts -1), the error under that field.
  await newObject(page, "queues");
  await page.fill(input("name"), "Escalations");
  await page.selectOption(input("hours_of_operation"), { label: "Basic Hours" });
  await page.fill(input("max_contacts"), "-1");
  await page.click("#save");
  const slot = '#object-form .field-error[data-error-for="max_contacts"]';
  await page.waitForFunction((s) => document.querySelector(s)?.textContent.length > 0, slot, T);
  if (!(await page.textContent("#form-error"))) fail("no overall error message");
  if ((await page.getAttribute(input("max_contacts"), "aria-invalid")) !== "true") fail("max_contacts not marked invalid");
  await shoot(page, "queue-error");
  await page.fill(input("name"), "");
  await page.fill(input("max_contacts"), "5");
  await page.click("#save");
  await page.waitForFunction(() => document.querySelector('#object-form .field-error[data-error-for="name"]')?.textContent.length > 0, null, T);
  if (await page.textContent('#object-form .field-error[data-error-for="max_contacts"]')) fail("a stale max_contacts error stays");
  await shoot(page, "queue-name-error");
  await page.fill(input("name"), "Escalations");
  await page.click("#save");
  await saved(page, "queues", "Escalations");
  await shoot(page, "queue-list");
  step("QUEUE");

  // A routing profile taking voice calls from it.
  await newObject(page, "routing-profiles");
  await page.fill(input("name"), "Escalation desk");
  await page.click('[data-add="media_concurrencies"]');
  await page.selectOption(input("media_concurrencies[0].channel"), "VOICE");
  await page.fill(input("media_concurrencies[0].concurrency"), "1");
  await page.click('[data-add="queue_configs"]');
  await page.selectOption(input("queue_configs[0].queue"), { label: "Escalations" });
  await page.selectOption(input("queue_configs[0].channel"), "VOICE");
  await page.fill(input("queue_configs[0].priority"), "1");
  await page.selectOption(input("default_outbound_queue"), { label: "Escalations" });
  await shoot(page, "routing-profile-form");
  await page.click("#save");
  await saved(page, "routing-profiles", "Escalation desk");
  const configs = await page.textContent('tr[data-name="Escalation desk"] td[data-col="queue_configs"]');
  if (!configs.includes("Escalations")) fail(`the profile's queues read ${configs}`);
  await shoot(page, "routing-profile-list");
  step("ROUTING_PROFILE");

  // An agent on that profile.
  await newObject(page, "users");
  await page.fill(input("username"), "erin");
  await page.fill(input("first_name"), "Erin");
  await page.fill(input("last_name"), "Agent");
  await page.check('#object-form [data-path="security_profiles"] input[data-label="Agent"]');
  await page.selectOption(input("routing_profile"), { label: "Escalation desk" });
  await page.fill(input("password"), agentPassword);
  await shoot(page, "user-form");
  await page.click("#save");
  await saved(page, "users", "erin");
  await shoot(page, "user-list");
  step("USER");

  // A phone number, running the published flow when there is one.
  await newObject(page, "phone-numbers");
  await page.fill(input("number"), number);
  if (flowName) await page.selectOption(input("flow"), { label: flowName });
  await page.click("#save");
  await page.waitForSelector(`#list-table[data-kind="phone-numbers"][data-ready="true"] tr[data-name="${number}"]`, T);
  if (flowName) {
    const flow = await page.textContent(`tr[data-name="${number}"] td[data-col="flow"]`);
    if (flow !== flowName) fail(`the number runs ${flow}`);
  }
  await shoot(page, "phone-number-list");
  await openKind(page, "flows");
  if (flowName) {
    const href = await page.getAttribute(`tr[data-name="${flowName}"] a`, "href");
    if (!href?.startsWith("/console/designer?flow=")) fail(`designer link ${href}`);
  }
  await shoot(page, "flows");
  step("PHONE_NUMBER");

  // A prompt: a file that is not WAV refused beside its field, then a real
  // WAV uploaded and played back; markup in its description stays text.
  const markup = '<img src=x onerror="window.__injected=1">';
  await newObject(page, "prompts");
  await page.fill(input("name"), "Closed message");
  await page.fill(input("description"), markup);
  await page.setInputFiles(input("file"), { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not audio") });
  await page.click("#save");
  await page.waitForFunction(() => document.querySelector('#object-form .field-error[data-error-for="file"]')?.textContent.length > 0, null, T);
  await shoot(page, "prompt-error");
  await page.setInputFiles(input("file"), { name: "closed.wav", mimeType: "audio/wav", buffer: toneWav(1.5, 8000) });
  await page.click("#save");
  await saved(page, "prompts", "Closed message");
  if (await page.locator("#list-table img").count()) fail("a description was drawn as HTML");
  await page.click('#list-table tr[data-name="Closed message"]');
  await page.waitForSelector('#prompt-player[data-loaded="true"]', T);
  const seconds = await page.evaluate(() => new Promise((resolve) => {
    const player = document.getElementById("prompt-player");
    const done = () => resolve(player.duration);
    if (player.readyState >= 1) done();
    else player.addEventListener("loadedmetadata", done, { once: true });
  }));
  if (!(Math.abs(seconds - 1.5) < 0.1)) fail(`the prompt plays for ${seconds} s`);
  if (await page.evaluate(() => window.__injected)) fail("markup in a description ran");
  await shoot(page, "prompt-listen");
  console.log(`prompt plays for ${seconds.toFixed(2)} s`);
  step("PROMPT");

  // Hours as a week: weekdays 9 to 5 and a Saturday morning, in a time zone picked by name.
  await newObject(page, "hours-of-operation");
  await page.fill(input("name"), "Weekdays");
  await page.fill(input("time_zone"), "Europe/London");
  const zones = await page.$$eval("#time-zones option", (o) => o.length);
  if (zones < 100) fail(`only ${zones} time zones to pick from`);
  for (const day of ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]) {
    await page.check(`.day-row[data-day="${day}"] input[data-day]`);
  }
  await page.fill('.day-row[data-day="SATURDAY"] input[type="time"] >> nth=0', "10:00");
  await page.fill('.day-row[data-day="SATURDAY"] input[type="time"] >> nth=1', "13:00");
  await shoot(page, "hours-form");
  await page.click("#save");
  await saved(page, "hours-of-operation", "Weekdays");
  step("HOURS");

  // A security profile from the permission matrix.
  await newObject(page, "security-profiles");
  await page.fill(input("name"), "Team leads");
  await page.check('.permission-matrix tr[data-resource="Users"] input[value="Users.View"]');
  await page.check('.permission-matrix tr[data-resource="AuditLog"] input[value="AuditLog.View"]');
  await shoot(page, "permission-matrix");
  await page.click("#save");
  await saved(page, "security-profiles", "Team leads");
  step("PERMISSIONS");

  // Users from Connect's CSV template: one made, one refused with its reason.
  await openKind(page, "users");
  await page.click("#import-users");
  const csv = [
    "first name,last name,email address,password,user login,routing profile name,security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds)",
    `Frank,Agent,frank@example.com,${agentPassword},frank,Escalation desk,Agent,soft,,yes,30`,
    `"Gina, Jr",Agent,,${agentPassword},gina,No such profile,Agent,soft,,no,0`,
  ].join("\r\n");
  await page.setInputFiles("#import-file", { name: "users.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.waitForSelector("#import-summary", T);
  const results = await page.$$eval("#import-results tbody tr", (r) => r.map((x) => [x.className, x.cells[1].textContent, x.cells[2].textContent]));
  if (results.length !== 2 || results[0][0] !== "ok" || results[1][0] !== "failed" || !/routing profile/i.test(results[1][2])) {
    fail(`the import report: ${JSON.stringify(results)}`);
  }
  await shoot(page, "users-imported");
  await page.click("#import-close");
  await saved(page, "users", "frank");
  // Users are searched and paged by the server.
  await page.fill("#list-search", "FRA");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#list-table[data-ready="true"] tbody tr')];
    return rows.length === 1 && rows[0].dataset.name === "frank";
  }, null, T);
  await page.fill("#list-search", "");
  // Other lists sort by a header, here and now.
  await openKind(page, "queues");
  await page.click('#list-table th[data-col="max_contacts"] button');
  await page.waitForSelector('#list-table th[data-col="max_contacts"][aria-sort="ascending"]', T);
  await page.click('#list-table th[data-col="name"] button');
  await page.click('#list-table th[data-col="name"] button');
  await page.waitForSelector('#list-table th[data-col="name"][aria-sort="descending"]', T);
  const names = await page.$$eval('#list-table tbody td[data-col="name"]', (c) => c.map((x) => x.textContent));
  if (JSON.stringify(names) !== JSON.stringify([...names].sort((a, b) => b.localeCompare(a, undefined, { numeric: true })))) fail(`not sorted: ${names}`);
  step("USERS_IMPORTED");

  // A bot from a Lex V2 export: imported with a report, listed, opened.
  await openKind(page, "bots");
  await page.click("#import-bot");
  await page.setInputFiles("#bot-file", botZip);
  await page.waitForSelector("#bot-summary", T);
  const summary = await page.textContent("#bot-summary");
  if (summary !== "Bot OrderFlowers created.") fail(`the bot import said: ${summary}`);
  const unmapped = await page.$$eval("#bot-unmapped li", (l) => l.map((x) => x.textContent));
  if (!unmapped.some((u) => u.includes("regexFilter"))) fail(`the report leaves out what was not taken: ${JSON.stringify(unmapped)}`);
  await shoot(page, "bot-imported");
  await page.click("#bot-close");
  await saved(page, "bots", "OrderFlowers");
  await page.click('#list-table tr[data-name="OrderFlowers"] td[data-col="name"]');
  await page.waitForSelector('#object-form[data-kind="bots"][data-mode="edit"][data-ready="true"]', T);
  const utterance = await page.inputValue('[data-path="locales[0].intents[0].sampleUtterances[0]"]').catch(() => null);
  if (!utterance) fail("the bot's form shows no sample utterance");
  await page.waitForSelector("#export-bot", T);
  await shoot(page, "bot-form");
  step("BOT");

  // An API key: shown once, listed, revoked.
  await openKind(page, "api-keys");
  await page.fill("#key-name", "crm-sync");
  await page.click("#key-create");
  await page.waitForSelector("#key-secret", T);
  const secret = await page.textContent("#key-secret");
  if (secret.length < 20) fail(`the key: ${secret}`);
  await page.waitForSelector('#list-table tr[data-name="crm-sync"]', T);
  await shoot(page, "api-key-made");
  page.once("dialog", (d) => d.accept());
  await page.click('#list-table tr[data-name="crm-sync"] button');
  await page.waitForFunction(() => !document.querySelector('#list-table tr[data-name="crm-sync"]'), null, T);
  step("API_KEY");

  // The audit log: what was just done, filtered by kind.
  await openKind(page, "audit-log");
  const first = await page.$$eval("#list-table tbody tr", (r) => r.length);
  if (first === 0) fail("an empty audit log");
  // Older entries come from the server, page by page.
  if (first === 50) {
    await page.click("#audit-more");
    await page.waitForFunction((n) => document.querySelectorAll("#list-table tbody tr").length > n, first, T);
  }
  await page.selectOption("#audit-kind", "queue");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#list-table tbody tr")];
    return rows.length > 0 && rows.every((r) => r.cells[4].textContent === "Queue")
      && rows.some((r) => r.cells[5].textContent === "Escalations");
  }, null, T);
  await shoot(page, "audit-log");
  step("AUDIT");

  // The agent: only agent statuses and quick connects, and nothing to create.
  await page.click("#logout");
  await page.waitForSelector("#login:not([hidden])", T);
  await signIn(page, "erin", agentPassword);
  const theirs = await page.$$eval("#nav button", (b) => b.map((x) => x.dataset.kind));
  for (const hidden of ["users", "queues", "routing-profiles", "phone-numbers", "security-profiles", "flows"]) {
    if (theirs.includes(hidden)) fail(`the agent sees ${hidden}: ${theirs}`);
  }
  await page.waitForSelector('#list-table[data-ready="true"]', T);
  if (await page.isVisible("#create")) fail("the agent may create");
  await shoot(page, "agent-sidebar");
  console.log(`agent sees: ${theirs.join(", ")}`);
  step("AGENT");
  step("DONE");
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
