// The agent's side of the CCP browser test, in headless Chromium.
//
// Run by crates/switchboard-tests/tests/ccp.rs, which starts Switchboard and
// the SIPp callers. This script plays the agent: it prints `STEP <name>`
// when the Rust side should act (place a call) and exits non-zero with
// `FAIL <why>` when something is wrong. Screenshots of every state go to
// $CCP_ARTIFACTS.
//
// Environment: CCP_URL, CCP_USER, CCP_PASSWORD, CCP_ARTIFACTS.

import { agentState as agentStateOf, echoErrors, expectOpus, failed, fail, fromRust, launch, screenshots, signIn, step, submitSignIn } from "./lib.mjs";

const { CCP_URL, CCP_USER, CCP_PASSWORD, CCP_ARTIFACTS = "artifacts/ccp" } = process.env;
const shoot = screenshots(CCP_ARTIFACTS);

// Lines the Rust side writes to us (it says when a peer is ready).
const rust = fromRust();
const waitFor = rust.waitFor;

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await context.grantPermissions(["microphone"], { origin: new URL(CCP_URL).origin });
const page = await context.newPage();
echoErrors(page);

const screenshot = (name) => shoot(page, name);

const contact = (state) => page.locator(`.contact[data-state="${state}"]`);
const agentState = (state) => agentStateOf(page, state);

async function heardEnergy() {
  const stats = await page.evaluate(() => window.ccpAudioStats());
  return stats?.inbound?.energy ?? 0;
}

// The agent and the caller talk for 2.5 s (the record's checks need that
// much audio each way), and the browser hears the caller: the energy of what
// it played grows. That growth is waited for, not timed: a busy machine may
// take a while to start the audio.
async function expectHearing(what) {
  const before = await heardEnergy();
  await page.waitForTimeout(2500);
  const deadline = Date.now() + 30000;
  let after = await heardEnergy();
  while (!(after > before) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    after = await heardEnergy();
  }
  console.log(`heard energy ${what}: ${before.toFixed(4)} -> ${after.toFixed(4)}`);
  if (!(after > before)) fail(`the browser heard no audio ${what}`);
  await expectOpus(page, "Chromium " + what);
}

async function goAvailable() {
  await page.selectOption("#status-select", "Available");
  await agentState("Available");
}

async function clickOn(state, action) {
  await contact(state).locator(`button[data-action="${action}"]`).click();
}

try {
  await page.goto(`${CCP_URL}/ccp`);
  await submitSignIn(page, CCP_USER, "wrong password");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  await screenshot("sign-in-refused");
  await submitSignIn(page, CCP_USER, CCP_PASSWORD);
  await page.waitForSelector("#workspace:not([hidden])");
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 30000 });
  await screenshot("signed-in-audio-checked");

    // A second tab: it shows the same agent, takes the softphone over, and
  // the first tab says so and can take it back.
  const second = await context.newPage();
  await signIn(second, CCP_URL, CCP_USER, CCP_PASSWORD);
  await second.waitForSelector('#check-path[data-ok="true"]', { timeout: 30000 });
  await page.waitForSelector("#use-here:not([hidden])", { timeout: 30000 });
  await screenshot("softphone-in-another-tab");
  await page.click("#use-here");
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 30000 });
  await second.waitForSelector("#use-here:not([hidden])", { timeout: 30000 });
  await second.close();

  await goAvailable();
  await screenshot("available");
  step("READY");

  // 1. A call: accept, talk, hold, resume, reload the page mid-call, hang up, ACW.
  await contact("incoming").waitFor({ timeout: 30000 });
  const caller = await contact("incoming").locator(".caller").textContent();
  if (!caller.includes("447700900123")) fail(`the incoming contact shows '${caller}'`);
  await agentState("Incoming");
  await screenshot("incoming");
  await clickOn("incoming", "accept");
  await contact("connected").waitFor({ timeout: 30000 });
  await agentState("OnContact");
  await expectHearing("once connected");
  await screenshot("connected");
  // The in-call keypad: a key goes to the caller (RFC 4733) and into the activity list.
  await clickOn("connected", "keypad");
  await contact("connected").locator('.keypad button[data-key="1"]').click();
  await page.waitForFunction(() => [...document.querySelectorAll("#activity li")].some((li) => li.textContent.includes("Key 1 sent")), null, { timeout: 30000 });
  await screenshot("keypad");
  await clickOn("connected", "keypad");
  step("CONNECTED");

  await clickOn("connected", "mute");
  await page.waitForSelector('.contact button[data-action="mute"].toggled');
  await clickOn("connected", "mute");
  await clickOn("connected", "hold");
  await contact("on_hold").waitFor({ timeout: 30000 });
  await screenshot("on-hold");
  await page.waitForTimeout(2000);
  await clickOn("on_hold", "resume");
  await contact("connected").waitFor({ timeout: 30000 });

  await page.reload();
  await page.waitForSelector("#workspace:not([hidden])", { timeout: 30000 });
  await contact("connected").waitFor({ timeout: 30000 });
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 30000 });
  await expectHearing("after a reload");
  await screenshot("reconnected-mid-call");
  step("RELOADED");
  await page.waitForTimeout(2000);

    // Transfer to the queue: the agent goes to after-contact work; once they
  // close it, the same caller (now a transferred contact) is offered again.
  // Moving through the list with the keyboard only chooses; nothing is sent
  // until Transfer is pressed. (A check that something does not happen:
  // on a slow machine it can pass wrongly, never fail.)
  await contact("connected").locator('select[data-action="transfer-to"]').focus();
  await page.keyboard.press("ArrowDown");
  await page.waitForTimeout(1500);
  if ((await contact("connected").count()) !== 1) fail("an arrow key in the transfer list transferred the caller");
  await contact("connected").locator('select[data-action="transfer-to"]').selectOption("Back to the queue");
  await contact("connected").locator('button[data-action="transfer"]').click();
  // Transfer asks first; Cancel keeps the caller, and asking again does it.
  await contact("connected").locator('[data-action="transfer-cancel"]').click();
  if ((await contact("connected").count()) !== 1) fail("a cancelled transfer sent the caller away");
  await contact("connected").locator('select[data-action="transfer-to"]').selectOption("Back to the queue");
  await contact("connected").locator('button[data-action="transfer"]').click();
  await screenshot("transfer-asks");
  await contact("connected").locator('[data-action="transfer-confirm"]').click();
  await page.waitForFunction(() => [...document.querySelectorAll("#activity li")].some((li) => li.textContent.includes("Transferred")), null, { timeout: 30000 });
  await contact("ended").waitFor({ timeout: 30000 });
  await agentState("AfterContactWork");
  await screenshot("after-contact-work");
  await clickOn("ended", "close");
  await contact("incoming").waitFor({ timeout: 30000 });
  await clickOn("incoming", "accept");
  await contact("connected").waitFor({ timeout: 30000 });
  await expectHearing("after the transfer");
  await clickOn("connected", "end");
  await contact("connected").locator('[data-action="end-confirm"]').click();
  await contact("ended").waitFor({ timeout: 30000 });
  await clickOn("ended", "close");
  await agentState("Available");
  if ((await page.locator(".contact").count()) !== 0) fail("a closed contact is still shown");
  step("NEXT");

  // 2. The next call is missed (no answer in time), then offered again and taken.
  await contact("incoming").waitFor({ timeout: 30000 });
  await screenshot("second-call-incoming");
  // On a phone-sized screen the offer comes first, and nothing is wider than the screen.
  const wide = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const narrow = await page.evaluate(() => ({
    fits: document.documentElement.scrollWidth <= window.innerWidth,
    accept: document.querySelector('.contact[data-state="incoming"] [data-action="accept"]')?.getBoundingClientRect().top,
    side: document.querySelector(".side")?.getBoundingClientRect().top,
  }));
  if (!narrow.fits || !(narrow.accept < narrow.side)) fail(`at 390 px: ${JSON.stringify(narrow)}`);
  await screenshot("incoming-390");
  await page.setViewportSize(wide);
  await agentState("Missed");
  await screenshot("missed");
    if ((await contact("incoming").count()) !== 0) fail("the missed offer is still shown");
  // Missed agents get nothing until they say they are ready; then the same caller comes back.
  await page.click("#ready-again");
  await contact("incoming").waitFor({ timeout: 30000 });
  await clickOn("incoming", "accept");
  await contact("connected").waitFor({ timeout: 30000 });
    await expectHearing("on the second call");
  await contact("connected").locator('select[data-action="transfer-to"]').selectOption("Support line");
  await contact("connected").locator('button[data-action="transfer"]').click();
  await contact("connected").locator('[data-action="transfer-confirm"]').click();
  await contact("ended").waitFor({ timeout: 30000 });
  await agentState("AfterContactWork");
  await screenshot("transferred-after-contact-work");
  await clickOn("ended", "close");
  await agentState("Available");
    step("DONE");

  // 3. The agent calls a customer from the dial pad; the customer answers, then hangs up.
  await waitFor("DIAL");
  await page.fill("#dial-number", "+44 7911 123457");
  await page.click("#dial-button");
    // The loopback customer answers within milliseconds, so "Calling…" may not be seen.
  await page.locator('.contact[data-state="dialing"], .contact[data-state="connected"]').waitFor({ timeout: 30000 });
  await contact("connected").waitFor({ timeout: 30000 });
  await agentState("OnContact");
  await screenshot("outbound-connected");
  await contact("ended").waitFor({ timeout: 30000 });
  await clickOn("ended", "close");
  await agentState("Available");
  step("DIALED");


    // 4. The agent disappears while a call is offered: the browser just goes.
  await contact("incoming").waitFor({ timeout: 30000 });
  await screenshot("offered-then-gone");
  step("GONE");
} catch (e) {
  failed(e);
  await screenshot("failure").catch(() => {});
} finally {
  rust.close();
  await browser.close();
}
