// A web chat in headless Chromium: customers in the embeddable widget (the
// demo page at /chat/), an agent in the CCP (/ccp).
//
// Run by crates/switchboard-tests/tests/chat_browser.rs, which starts
// Switchboard with a chat flow and a chat-only agent and checks the contact
// records afterwards. This script prints `STEP READY`, `STEP FIRST <contact>`,
// `STEP SECOND <contact>` and `STEP DONE`, and exits non-zero with
// `FAIL <why>` when something is wrong. Screenshots go to $CHAT_ARTIFACTS.
//
// Environment: CHAT_URL, CHAT_USER, CHAT_PASSWORD, CHAT_FLOW, CHAT_ARTIFACTS.

import { agentState, echoErrors, fail, failed, launch, screenshots, signIn, step } from "./lib.mjs";

const { CHAT_URL, CHAT_USER, CHAT_PASSWORD, CHAT_FLOW, CHAT_ARTIFACTS = "artifacts/chat" } = process.env;
const shoot = screenshots(CHAT_ARTIFACTS);

// What the customers write that must stay text: markup that would run if a
// page ever parsed it as HTML.
const IMG = `<img src=x onerror="window.__pwned=1">`;
const SCRIPT = `<script>window.__pwned=2</script>`;

const browser = await launch();
// The agent allows no microphone: a chat-only agent needs no audio path.
const agentContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await agentContext.addInitScript(() => {
  navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("no microphone here", "NotAllowedError"));
});
const customers = await browser.newContext({ viewport: { width: 900, height: 760 } });
const agent = await agentContext.newPage();
echoErrors(agent, "agent");

// ---------- the customer's widget (its shadow root is open: locators go in) ----------

const sb = (page, name) => page.locator(`#switchboard-chat [data-sb="${name}"]`);

/** The text of every message shown in `scope` (a widget page or a CCP chat card). */
const messages = (scope) => scope.locator('[data-sb="item"] [data-sb="content"]').allTextContents();

/** Waits until `scope` shows a message whose text is exactly `text`. */
async function shows(scope, text, who, timeout = 30000) {
  const until = Date.now() + timeout;
  for (;;) {
    const shown = await messages(scope);
    if (shown.includes(text)) return;
    if (Date.now() > until) fail(`${who} never showed ${JSON.stringify(text)}; shown: ${JSON.stringify(shown)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The seqs of everything drawn in a conversation; fails on a repeat. */
async function drawnSeqs(scope, who) {
  const seqs = await scope.locator("[data-sb=messages] [data-seq]").evaluateAll((nodes) => nodes.map((n) => n.dataset.seq));
  if (new Set(seqs).size !== seqs.length) fail(`${who} drew an item twice: seqs ${seqs.join(",")}`);
  return seqs;
}

async function customerSends(page, text) {
  await sb(page, "input").fill(text);
  await sb(page, "send").click();
}

// An <img src=x> drawn as HTML would fetch ./x: none of the pages may ask for it.
const fetchedMarkup = [];
function watchMarkup(page, who) {
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.endsWith("/x")) fetchedMarkup.push(`${who}: ${r.url()}`);
  });
}
watchMarkup(agent, "the agent");

async function openWidget(name, first) {
  const page = await customers.newPage();
  echoErrors(page, name);
  watchMarkup(page, name);
  await page.goto(`${CHAT_URL}/chat/?flow=${encodeURIComponent(CHAT_FLOW)}`);
  await sb(page, "launcher").click();
  await sb(page, "name").fill(name);
  await sb(page, "first-message").fill(first);
  return page;
}

async function startChat(page, name, first) {
  await sb(page, "start").click();
  await shows(page, first, name);
  const id = await page.evaluate(() => window.switchboardChat.state.contactId);
  if (!id) fail(`${name}'s widget has no contact id`);
  return id;
}

// ---------- the agent's CCP ----------

const card = (id) => agent.locator(`article.contact[data-channel="CHAT"][data-chat="${id}"]`);

async function agentSends(id, text) {
  await card(id).locator('[data-sb="input"]').fill(text);
  await card(id).locator('[data-sb="send"]').click();
}

async function accept(id, customer) {
  await card(id).and(agent.locator('[data-state="incoming"]')).waitFor({ timeout: 30000 });
  const caller = await card(id).locator(".caller").textContent();
  if (caller !== customer) fail(`the incoming chat shows '${caller}', not '${customer}'`);
  await card(id).locator('[data-action="accept"]').click();
  await card(id).and(agent.locator('[data-state="connected"]')).waitFor({ timeout: 30000 });
}

async function noneRan(...pages) {
  if (fetchedMarkup.length) fail(`a message was drawn as HTML: ${fetchedMarkup.join(", ")}`);
  for (const page of pages) {
    const pwned = await page.evaluate(() => window.__pwned);
    if (pwned !== undefined) fail(`markup ran in ${page.url()}: window.__pwned = ${pwned}`);
  }
}

let ada = null;
let grace = null;
try {
  // 1. The agent signs in and goes Available, with no microphone.
  await signIn(agent, CHAT_URL, CHAT_USER, CHAT_PASSWORD);
  await agent.waitForSelector('#check-mic[data-ok="fail"]', { timeout: 30000 });
  await agent.selectOption("#status-select", "Available");
  await agentState(agent, "Available", 10000);
  await shoot(agent, "agent-available");
  step("READY");

  // 2. Ada opens the widget and starts a chat; the flow greets her and queues it.
  ada = await openWidget("Ada", "Hello, I have a question about my order");
  await shoot(ada, "ada-pre-chat-form");
  const first = await startChat(ada, "Ada", "Hello, I have a question about my order");
  await shows(ada, "Thank you for contacting us. An agent will be with you shortly.", "Ada");
  step(`FIRST ${first}`);
  await shoot(ada, "ada-waiting");

  // 3. The agent is offered the chat and accepts; the history is there.
  await card(first).waitFor({ timeout: 30000 });
  await shoot(agent, "agent-incoming-chat");
  await accept(first, "Ada");
  await shows(card(first), "Hello, I have a question about my order", "the agent");
  await agentState(agent, "OnContact", 10000);
  await sb(ada, "status").filter({ hasText: "Chatting with" }).waitFor({ timeout: 30000 });

  // 4. Messages both ways; the agent sees Ada typing; Ada sees her message read.
  await agentSends(first, "Hi Ada, this is Ana. How can I help?");
  await shows(ada, "Hi Ada, this is Ana. How can I help?", "Ada");
  await sb(ada, "input").pressSequentially("My parcel has not arrived", { delay: 20 });
  await card(first).locator('[data-sb="typing"]').filter({ hasText: "Ada is typing" }).waitFor({ timeout: 30000 });
  await shoot(agent, "agent-sees-typing");
  await sb(ada, "input").press("Enter");
  await shows(card(first), "My parcel has not arrived", "the agent");
  await card(first).locator('[data-sb="typing"]').waitFor({ state: "hidden", timeout: 30000 });
  await sb(ada, "receipt").filter({ hasText: "Read" }).first().waitFor({ timeout: 30000 });
  await shoot(ada, "ada-chatting");

  // 5. Markup is shown as the text it is, on both sides, and never runs.
  await customerSends(ada, IMG);
  await customerSends(ada, SCRIPT);
  for (const [scope, who] of [[ada, "Ada"], [card(first), "the agent"]]) {
    await shows(scope, IMG, who);
    await shows(scope, SCRIPT, who);
    const parsed = await scope.locator("[data-sb=messages] img, [data-sb=messages] script").count();
    if (parsed) fail(`${who} parsed a message as HTML`);
  }
  await agent.waitForTimeout(300); // an <img src=x> would have failed to load by now
  await noneRan(ada, agent);
  await shoot(ada, "ada-markup-as-text");
  await shoot(agent, "agent-markup-as-text");

  // 6. Ada reloads the page mid-chat: the conversation is drawn again, once, and goes on.
  const before = await drawnSeqs(ada, "Ada");
  await ada.reload();
  await sb(ada, "messages").waitFor({ timeout: 30000 });
  const redrawn = Date.now() + 30000;
  while ((await drawnSeqs(ada, "Ada after the reload")).length < before.length) {
    if (Date.now() > redrawn) fail("the conversation was not drawn again after the reload");
    await ada.waitForTimeout(100);
  }
  await ada.waitForTimeout(500); // anything drawn twice would be there by now
  const after = await drawnSeqs(ada, "Ada after the reload");
  if (after.join(",") !== before.join(",")) fail(`after the reload Ada shows seqs ${after} instead of ${before}`);
  await noneRan(ada);
  await shoot(ada, "ada-reloaded");
  await customerSends(ada, "Still here after a reload");
  await shows(card(first), "Still here after a reload", "the agent");
  await agentSends(first, "Good to see you back");
  await shows(ada, "Good to see you back", "Ada");
  await drawnSeqs(ada, "Ada");
  await drawnSeqs(card(first), "the agent");

  // 7. Grace starts a second chat: the agent has two panels side by side and answers both.
  grace = await openWidget("Grace", "Hi, I would like to change my plan");
  const second = await startChat(grace, "Grace", "Hi, I would like to change my plan");
  step(`SECOND ${second}`);
  await accept(second, "Grace");
  await shows(card(second), "Hi, I would like to change my plan", "the agent");
  const [a, b] = [await card(first).boundingBox(), await card(second).boundingBox()];
  if (!(Math.abs(a.y - b.y) < 2 && Math.abs(a.x - b.x) > 300)) {
    fail(`the chat panels are not side by side: ${JSON.stringify(a)} ${JSON.stringify(b)}`);
  }
  await agentSends(second, "Hello Grace, happy to help");
  await agentSends(first, "One moment, Ada");
  await shows(grace, "Hello Grace, happy to help", "Grace");
  await shows(ada, "One moment, Ada", "Ada");
  if ((await messages(grace)).includes("One moment, Ada")) fail("Grace saw a message meant for Ada");
  if ((await messages(card(second))).includes("Good to see you back")) fail("Grace's panel shows Ada's chat");
  await customerSends(grace, "Thanks, that is all");
  await shows(card(second), "Thanks, that is all", "the agent");
  await shoot(agent, "agent-two-chats");
  await shoot(grace, "grace-chatting");

  // 8. The agent ends Ada's chat and closes it; Ada sees it ended.
  await card(first).locator('[data-action="end"]').click();
  await card(first).locator('[data-action="end-confirm"]').click();
  await card(first).and(agent.locator('[data-state="ended"]')).waitFor({ timeout: 30000 });
  await sb(ada, "status").filter({ hasText: "Chat ended" }).waitFor({ timeout: 30000 });
  await sb(ada, "notice").filter({ hasText: "Chat ended" }).waitFor({ timeout: 30000 });
  if (!(await sb(ada, "input").isDisabled())) fail("Ada can still type in an ended chat");
  await shoot(ada, "ada-chat-ended");
  await shoot(agent, "agent-ended-first");
  await card(first).locator('[data-action="close"]').click();
  await card(first).waitFor({ state: "detached", timeout: 30000 });

  // 9. Grace ends her chat from the widget; the agent sees it end and closes it.
  await sb(grace, "end").click();
  await sb(grace, "status").filter({ hasText: "Chat ended" }).waitFor({ timeout: 30000 });
  await card(second).and(agent.locator('[data-state="ended"]')).waitFor({ timeout: 30000 });
  await card(second).locator('[data-sb="notice"]').filter({ hasText: "Chat ended" }).waitFor({ timeout: 30000 });
  if (!(await card(second).locator('[data-sb="input"]').isDisabled())) fail("the agent can still type in an ended chat");
  await shoot(grace, "grace-chat-ended");
  await shoot(agent, "agent-second-ended");
  await card(second).locator('[data-action="close"]').click();
  await card(second).waitFor({ state: "detached", timeout: 30000 });
  await agentState(agent, "Available", 10000);
  await noneRan(ada, grace, agent);
  await shoot(agent, "agent-available-again");
  step("DONE");
} catch (e) {
  failed(e);
  for (const [page, name] of [[agent, "agent"], [ada, "ada"], [grace, "grace"]]) {
    if (page) await shoot(page, `failure-${name}`).catch(() => {});
  }
} finally {
  await browser.close();
}
