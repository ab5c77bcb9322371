// The flow designer (/console/designer) in headless Chromium: a new contact
// flow built by clicking the palette, dragging connections and filling the
// side panel; saved, validated (a missing connection shown, clicked and
// fixed), published; a real Connect export imported and drawn; the first
// flow simulated with its path highlighted; then, in the console (same
// sign-in), the phone number set to run it.
//
// Run by crates/switchboard-tests/tests/designer_browser.rs (which creates
// the Sales queue first and checks the result over the API afterwards).
// Prints `STEP DONE` at the end, `FAIL <why>` when something is wrong.
// Screenshots go to $DESIGNER_ARTIFACTS.
//
// Environment: DESIGNER_URL, DESIGNER_USER, DESIGNER_PASSWORD,
// DESIGNER_ARTIFACTS, FLOW_NAME, IMPORT_FILE (a Connect export),
// PHONE_NUMBER (a number without a flow, as the list shows it).

import { readFile } from "node:fs/promises";
import { echoErrors, fail, failed, launch, screenshots, step } from "./lib.mjs";

const env = process.env;
const URL_ = env.DESIGNER_URL;
const shoot = screenshots(env.DESIGNER_ARTIFACTS || "artifacts/designer");

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, timezoneId: "UTC", locale: "en-US" });
const page = await context.newPage();
echoErrors(page, "designer");
const cspViolations = [];
page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

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

const node = (id) => `.drawflow-node[data-action="${id}"]`;

/** Adds an action from the palette; returns its Identifier (the one selected). */
async function add(type) {
  await page.click(`#palette button[data-type="${type}"]`);
  return page.inputValue("#action-id");
}

async function selectNode(id) {
  await page.click(`${node(id)} .node-head`);
  await until(`${id} selected`, () => page.inputValue("#action-id"), id);
}

/** Drags from `from`'s output `branch` (next, condition-0, error-0...) to `to`'s input. */
async function connect(from, branch, to) {
  const out = await page.locator(`${node(from)} .outputs .output[data-branch="${branch}"]`).boundingBox();
  const inp = await page.locator(`${node(to)} .inputs .input_1`).boundingBox();
  if (!out || !inp) fail(`no output ${branch} on ${from} or no input on ${to}`);
  await page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
  await page.mouse.down();
  await page.mouse.move((out.x + inp.x) / 2, (out.y + inp.y) / 2, { steps: 4 });
  await page.mouse.move(inp.x + inp.width / 2, inp.y + inp.height / 2, { steps: 4 });
  await page.mouse.up();
}

/** The content as the page holds it (what Save would send). */
const content = () => page.evaluate(() => window.designer.content);

try {
  // ---------- sign in, new flow ----------
  await page.goto(`${URL_}/console/designer`);
  await page.fill("#username", env.DESIGNER_USER);
  await page.fill("#password", env.DESIGNER_PASSWORD);
  await page.click("#login-button");
  await page.waitForSelector("#picker:not([hidden])", { timeout: 30000 });
  if ((await page.evaluate(() => typeof window.Drawflow)) !== "function") fail("no Drawflow");
  await page.fill("#new-flow-name", env.FLOW_NAME);
  await page.selectOption("#new-flow-type", "CONTACT_FLOW");
  await page.click("#new-flow-button");
  await page.waitForSelector("#designer:not([hidden])", { timeout: 30000 });
  await until("the flow's name", () => page.textContent("#flow-name"), env.FLOW_NAME);
  if (!new URL(page.url()).searchParams.get("flow")) fail(`no flow in the address: ${page.url()}`);
  const flowId = await page.evaluate(() => window.designer.flow.id);

  // ---------- actions from the palette, with their parameters ----------
  const welcome = await add("MessageParticipant");
  await page.fill('#common-fields input[data-param="Text"]', "Welcome to <b>Sales</b>");
  await page.click("#apply");
  const menu = await add("GetParticipantInput");
  await page.fill('#common-fields input[data-param="Text"]', "Press 1 for sales");
  await page.fill('#common-fields input[data-param="InputTimeLimitSeconds"]', "7");
  await page.click("#add-condition");
  await page.fill("#conditions .condition:last-child .cond-operand", "1");
  await page.click("#apply");
  const target = await add("UpdateContactTargetQueue");
  // Queues are picked from the instance's, by name.
  await page.selectOption('#common-fields select[data-param="QueueId"]', { label: "Sales" });
  await page.click("#apply");
  const transfer = await add("TransferContactToQueue");
  // Renamed in the panel: references follow.
  await page.fill("#action-id", "to-sales");
  await page.click("#apply");
  const bye = await add("DisconnectParticipant");
  if (transfer !== "transfer-contact-to-queue-1") fail(`identifier ${transfer}`);
  await until("five nodes", () => page.locator(".drawflow-node").count(), 5);
  // Data is text, never markup.
  // Blocks go by the names people know, labelled with their own text.
  await until("the welcome summary", () => page.textContent(`${node(welcome)} .node-summary`), "Welcome to <b>Sales</b>");
  await until("the welcome's name", () => page.textContent(`${node(welcome)} .node-type`), "Play prompt");
  await until("the queue's label", () => page.textContent(`${node(target)} .node-summary`), "Queue: Sales");
  if (await page.locator(`${node(welcome)} b`).count()) fail("a parameter was drawn as HTML");
  await until("the menu's outputs", () => page.$$eval(`${node(menu)} .outputs .output`, (o) => o.map((x) => x.dataset.label)), ["= 1", "NoMatchingError"]);
  await shoot(page, "actions-added");

  // ---------- connect by dragging; leave one missing ----------
  await connect(welcome, "next", menu);
  await connect(menu, "condition-0", target);
  for (const from of [welcome, menu, target, "to-sales"]) await connect(from, "error-0", bye);
  await until("the connections", async () => {
    const c = await content();
    const t = (id) => c.Actions.find((a) => a.Identifier === id).Transitions;
    return [t(welcome).NextAction, t(menu).Conditions[0].NextAction, t(menu).Errors[0].NextAction, t("to-sales").Errors[0].NextAction];
  }, [menu, target, bye, bye]);
  await until("drawn connections", () => page.locator("#canvas svg.connection").count(), 6);
  await selectNode(welcome);
  await page.click("#set-start");
  await until("the start badge", () => page.locator(`${node(welcome)}.start`).count(), 1);
  await page.click("#save");
  await until("saved", () => page.isHidden("#dirty"), true);
  await shoot(page, "connected-saved");

  // ---------- validate: the missing connection, clicked, fixed ----------
  await page.click("#validate");
  await until("a problem", () => page.getAttribute("#problems", "data-valid"), "false");
  const problems = await page.$$eval("#problems li", (l) => l.map((x) => [x.dataset.action, x.querySelector(".message").textContent]));
  const missing = problems.find(([a]) => a === target);
  if (!missing || !/missing/.test(missing[1])) fail(`the problems: ${JSON.stringify(problems)}`);
  await shoot(page, "validation-problem");
  await page.click(`#problems li[data-action="${target}"]`);
  await until("the problem's node selected", () => page.locator(`${node(target)}.picked`).count(), 1);
  await until("the panel follows", () => page.inputValue("#action-id"), target);
  await connect(target, "next", "to-sales");
  await page.click("#validate");
  await until("valid", () => page.getAttribute("#problems", "data-valid"), "true");
  await shoot(page, "validation-fixed");

  // ---------- a misspelt queue is an error; undo brings the right one back ----------
  await selectNode(target);
  await page.selectOption('#common-fields select[data-param="QueueId"]', "__other__");
  await page.fill('#common-fields input[data-other="QueueId"]', "Billng");
  await page.click("#apply");
  await page.click("#validate");
  await until("the misspelt queue refused", () => page.getAttribute("#problems", "data-valid"), "false");
  const typo = await page.$$eval("#problems li .message", (l) => l.map((x) => x.textContent));
  if (!typo.some((m) => m.startsWith("no queue named 'Billng'"))) fail(`the problems: ${JSON.stringify(typo)}`);
  await shoot(page, "unknown-queue");
  await page.click("#undo");
  await until("the queue back", () => page.textContent(`${node(target)} .node-summary`), "Queue: Sales");
  await page.click("#validate");
  await until("valid again", () => page.getAttribute("#problems", "data-valid"), "true");

  // ---------- the keyboard: a block is focused, selected and moved ----------
  await page.focus(node(menu));
  await page.keyboard.press("Enter");
  await until("selected by Enter", () => page.inputValue("#action-id"), menu);
  const before = (await content()).Metadata.ActionMetadata[menu].position;
  await page.keyboard.press("ArrowDown");
  await until("moved by the arrow", async () => (await content()).Metadata.ActionMetadata[menu].position.y, before.y + 20);
  await page.click("#undo");
  await until("moved back by undo", async () => (await content()).Metadata.ActionMetadata[menu].position.y, before.y);
  // A branch connected from the panel, without a mouse.
  const hours = await add("CheckHoursOfOperation");
  await until("hours come with True and False", () => page.$$eval(`${node(hours)} .outputs .output`, (o) => o.map((x) => x.dataset.label)), ["= True", "= False", "NoMatchingError"]);
  await page.selectOption("#conditions .condition:first-child select.target", "to-sales");
  await page.click("#apply");
  await until("connected from the panel", async () => (await content()).Actions.find((a) => a.Identifier === hours).Transitions.Conditions[0].NextAction, "to-sales");
  await page.click("#undo");
  await page.click("#undo");
  await until("the hours block undone", () => page.locator(".drawflow-node").count(), 5);
  // A bot is picked from the instance's, into LexV2Bot.AliasArn.
  const bot = await add("ConnectParticipantWithLexBot");
  await page.selectOption('#common-fields select[data-param="LexV2Bot.AliasArn"]', { label: "DemoBank" });
  const botId = await page.inputValue('#common-fields select[data-param="LexV2Bot.AliasArn"]');
  await page.click("#apply");
  await until("the bot picked", async () => (await content()).Actions.find((a) => a.Identifier === bot).Parameters.LexV2Bot, { AliasArn: botId });
  if (!botId || botId === "__other__") fail(`the bot's id: ${botId}`);
  await selectNode(bot);
  await until("the bot shown again", () => page.inputValue('#common-fields select[data-param="LexV2Bot.AliasArn"]'), botId);
  await page.click("#undo");
  await page.click("#undo");
  await until("the bot block undone", () => page.locator(".drawflow-node").count(), 5);
  await page.click("#save");
  await until("saved again", () => page.isHidden("#dirty"), true);

  // ---------- publish ----------
  await page.click("#publish");
  await until("published", () => page.getAttribute("#notice", "data-version"), "1");
  await shoot(page, "published");
  // Positions were kept in the flow's Metadata.
  const saved = await page.evaluate(async (id) => {
    const r = await fetch(`/api/v1/flows/${id}`, { headers: { authorization: `Bearer ${sessionStorage.getItem("switchboard.staff.token")}` } });
    return r.json();
  }, flowId);
  const pos = saved.content.Metadata?.ActionMetadata?.[welcome]?.position;
  if (!pos || typeof pos.x !== "number") fail(`no saved position: ${JSON.stringify(saved.content.Metadata)}`);

  // ---------- import a real Connect export ----------
  const exported = await readFile(env.IMPORT_FILE, "utf8");
  const imported = JSON.parse(exported);
  const innerActions = JSON.parse(imported.Content).Actions;
  await page.click("#import-open");
  await page.fill("#import-text", exported);
  await page.click("#import-run");
  await until("the imported flow", () => page.textContent("#flow-name"), imported.Name);
  await until("its nodes", () => page.locator(".drawflow-node").count(), innerActions.length);
  const drawnTypes = await page.$$eval(".drawflow-node", (l) => l.map((x) => x.dataset.type).sort());
  if (JSON.stringify(drawnTypes) !== JSON.stringify(innerActions.map((a) => a.Type).sort())) fail(`imported types: ${drawnTypes}`);
  await until("its connection", () => page.locator("#canvas svg.connection").count(), 1);
  // No Connect type names and no generated identifiers on the blocks.
  const heads = await page.$$eval(".drawflow-node", (l) => l.map((x) => [x.querySelector(".node-type").textContent, x.querySelector(".node-id").hidden ? "" : x.querySelector(".node-id").textContent]));
  for (const [name, id] of heads) {
    if (/^[A-Z][a-z]+[A-Z]/.test(name) || /^[0-9a-f]{8}-/.test(id)) fail(`a block shows ${name} ${id}`);
  }
  // Laid out and fitted: every block inside the canvas, none over another.
  await until("fitted", () => page.evaluate(() => {
    const c = document.getElementById("canvas").getBoundingClientRect();
    const boxes = [...document.querySelectorAll(".drawflow-node")].map((n) => n.getBoundingClientRect());
    const inside = boxes.every((b) => b.left >= c.left && b.right <= c.right && b.top >= c.top && b.bottom <= c.bottom);
    const apart = boxes.every((a, i) => boxes.every((b, j) => i === j || a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top));
    return inside && apart;
  }), true);
  await shoot(page, "imported");

  // ---------- simulate the first flow ----------
  await page.goto(`${URL_}/console/designer?flow=${encodeURIComponent(flowId)}`);
  await until("the first flow again", () => page.textContent("#flow-name"), env.FLOW_NAME);
  await until("its nodes", () => page.locator(".drawflow-node").count(), 5);
  await page.fill("#sim-digits", "1");
  await page.selectOption("#sim-channel", "VOICE");
  await page.click("#simulate");
  await until("the outcome", () => page.getAttribute("#sim-outcome", "data-outcome"), "queued");
  const steps = await page.$$eval("#sim-steps li", (l) => l.map((x) => x.dataset.action));
  if (JSON.stringify(steps) !== JSON.stringify([welcome, menu, target, "to-sales"])) fail(`the path: ${JSON.stringify(steps)}`);
  const lit = await page.$$eval(".drawflow-node.on-path", (l) => l.map((x) => x.dataset.action).sort());
  if (JSON.stringify(lit) !== JSON.stringify([welcome, menu, target, "to-sales"].sort())) fail(`highlighted nodes: ${lit}`);
  if ((await page.locator(`${node(bye)}.on-path`).count()) !== 0) fail("the disconnect is on the path");
  await until("highlighted connections", () => page.locator("#canvas svg.connection.on-path").count(), 3);
  if (!/Sales/.test(await page.textContent("#sim-outcome"))) fail(`outcome: ${await page.textContent("#sim-outcome")}`);
  await shoot(page, "simulated");
  step("SIMULATED");

  // ---------- the published flow answers a number, set in the console ----------
  // Same tab, so the designer's sign-in carries over (no second login).
  await page.goto(`${URL_}/console`);
  await page.waitForSelector("#workspace:not([hidden]) #nav button", { timeout: 30000 });
  await page.click('#nav button[data-kind="phone-numbers"]');
  const row = `#list-table[data-kind="phone-numbers"][data-ready="true"] tr[data-name="${env.PHONE_NUMBER}"]`;
  await page.waitForSelector(row, { timeout: 30000 });
  await page.click(row);
  await page.waitForSelector('#object-form[data-kind="phone-numbers"][data-mode="edit"][data-ready="true"]', { timeout: 30000 });
  await page.selectOption('#object-form [data-path="flow"]', { label: env.FLOW_NAME });
  await page.click("#save");
  await until("the number's flow", async () => {
    if (!(await page.locator(row).count())) return null;
    return page.textContent(`${row} td[data-col="flow"]`);
  }, env.FLOW_NAME);
  await shoot(page, "number-assigned");
  step("NUMBER_ASSIGNED");

  // Back to the designer for the last edits.
  await page.goto(`${URL_}/console/designer?flow=${encodeURIComponent(flowId)}`);
  await until("its nodes once more", () => page.locator(".drawflow-node").count(), 5);

  // ---------- delete an action: the branches into it go too ----------
  await selectNode(bye);
  await page.click("#delete-action");
  await until("four nodes", () => page.locator(".drawflow-node").count(), 4);
  const after = await content();
  if (after.Actions.some((a) => (a.Transitions.Errors || []).some((e) => e.NextAction === bye))) fail("a branch still leads to the deleted action");

  // ---------- versions: compared with the draft, restored ----------
  await page.click("#versions-open");
  await page.waitForSelector('#version-list li[data-version="1"]', { timeout: 30000 });
  await page.click('#version-list [data-compare="1"]');
  await until("the difference", () => page.$$eval("#version-diff li", (l) => l.map((x) => x.dataset.kind)), ["changed", "changed", "changed", "changed", "removed"]);
  await shoot(page, "versions-compared");
  await page.click('#version-list [data-restore="1"]');
  await until("version 1 restored", () => page.locator(".drawflow-node").count(), 5);

  if (cspViolations.length) fail(`CSP: ${cspViolations[0]}`);
  step("DONE");
  await browser.close();
} catch (e) {
  failed(e);
  await shoot(page, "failure").catch(() => {});
  await browser.close();
}
