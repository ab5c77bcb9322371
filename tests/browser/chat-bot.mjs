// A customer chats with a bot in the embeddable widget, in headless Chromium.
// The flow hands the chat to the demo bank bot; the widget's first message is
// the first thing the bot hears; the bot asks for the account number, the
// customer types it in words, and the flow answers with what the bot filled.
//
// Run by crates/switchboard-tests/tests/chat_browser.rs, which creates the bot
// and the flow and checks the transcript. Prints `STEP DONE <contact>`;
// `FAIL <why>` on error. Screenshots (checked by axe-core) go to $CHAT_ARTIFACTS.
//
// Environment: CHAT_URL, CHAT_FLOW, CHAT_ARTIFACTS.

import { echoErrors, fail, failed, launch, screenshots, step } from "./lib.mjs";

const { CHAT_URL, CHAT_FLOW, CHAT_ARTIFACTS = "artifacts/chat-bot" } = process.env;
const shoot = screenshots(CHAT_ARTIFACTS);
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
const sb = (page, name) => page.locator(`#switchboard-chat [data-sb="${name}"]`);

/** Waits until the widget shows a message whose text is exactly `text`. */
async function shows(page, text) {
  const until = Date.now() + 30000;
  for (;;) {
    const shown = await sb(page, "messages").locator('[data-sb="item"] [data-sb="content"]').allTextContents();
    if (shown.includes(text)) return;
    if (Date.now() > until) fail(`the widget never showed ${JSON.stringify(text)}; shown: ${JSON.stringify(shown)}`);
    await page.waitForTimeout(100);
  }
}

try {
  const page = await context.newPage();
  echoErrors(page, "Kim");
  await page.goto(`${CHAT_URL}/chat/?flow=${encodeURIComponent(CHAT_FLOW)}`);
  await sb(page, "launcher").click();
  await sb(page, "name").fill("Kim");
  await sb(page, "first-message").fill("Hi, what is my balance?");
  await sb(page, "start").click();
  await shows(page, "Hi, what is my balance?");
  await shows(page, "Hi, I'm the bank's assistant. How can I help?");
  // The first message was heard: the bot asks for the one slot it lacks.
  await shows(page, "What is your account number?");
  await shoot(page, "bot-asks");
  await sb(page, "input").fill("it's one two three four five six");
  await sb(page, "send").click();
  await shows(page, "Thanks. Let me look up the balance of account 123456.");
  await shows(page, "You asked for CheckBalance on account 123456.");
  await sb(page, "status").filter({ hasText: /ended/i }).waitFor({ timeout: 30000 });
  await shoot(page, "bot-done");
  const id = await page.evaluate(() => window.switchboardChat.state.contactId);
  if (!id) fail("the widget has no contact id");
  step(`DONE ${id}`);
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
