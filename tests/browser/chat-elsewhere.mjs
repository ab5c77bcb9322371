// The chat widget on a company's own site: a page served by another HTTP
// server (another port, so another origin) embeds the widget with one
// script tag. The browser's CORS preflight and the WebSocket's Origin check
// let the allowed site chat, and keep a site not on the list out.
//
// Run by crates/switchboard-tests/tests/chat_browser.rs, which serves both
// pages, allows only the first and checks the contact records. Prints
// `STEP ALLOWED <contact>`, `STEP REFUSED`, `STEP DONE`; `FAIL <why>` on error.
//
// Environment: SHOP_URL (allowed page), OTHER_URL (not allowed), CHAT_FLOW.

import { echoErrors, fail, failed, launch, step } from "./lib.mjs";

const { SHOP_URL, OTHER_URL } = process.env;
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
const sb = (page, name) => page.locator(`#switchboard-chat [data-sb="${name}"]`);

async function widgetOn(url, name, first) {
  const page = await context.newPage();
  echoErrors(page, name);
  await page.goto(url);
  await sb(page, "launcher").click();
  await sb(page, "name").fill(name);
  await sb(page, "first-message").fill(first);
  await sb(page, "start").click();
  return page;
}

/** Waits until the widget shows a message whose text is exactly `text`. */
async function shows(page, text, who) {
  const until = Date.now() + 30000;
  for (;;) {
    const shown = await sb(page, "messages").locator('[data-sb="item"] [data-sb="content"]').allTextContents();
    if (shown.includes(text)) return;
    if (Date.now() > until) fail(`${who} never showed ${JSON.stringify(text)}; shown: ${JSON.stringify(shown)}`);
    await page.waitForTimeout(100);
  }
}

try {
  // The allowed shop: the chat starts, the flow's greeting arrives over the socket.
  const shop = await widgetOn(SHOP_URL, "Ada", "Hello from the shop");
  await shows(shop, "Hello from the shop", "the shop's widget");
  await shows(shop, "Thank you for contacting us. An agent will be with you shortly.", "the shop's widget");
  const id = await shop.evaluate(() => window.switchboardChat.state.contactId);
  if (!id) fail("the shop's widget has no contact id");
  if (new URL(shop.url()).origin === new URL(process.env.CHAT_URL).origin) fail("the shop page is on Switchboard's origin");
  step(`ALLOWED ${id}`);

  // Another site: the browser refuses the start after the preflight; the widget says so.
  const other = await widgetOn(OTHER_URL, "Mallory", "Hello from elsewhere");
  await sb(other, "form-error").filter({ hasText: "cannot reach" }).waitFor({ timeout: 30000 });
  const started = await other.evaluate(() => window.switchboardChat?.state?.contactId || null);
  if (started) fail(`a site not allowed started chat ${started}`);
  step("REFUSED");

  // The shop's customer ends the chat from the widget.
  await sb(shop, "end").click();
  await sb(shop, "status").filter({ hasText: /ended/i }).waitFor({ timeout: 30000 });
  step("DONE");
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
