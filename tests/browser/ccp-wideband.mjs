// The agent's side of the wideband softphone test, in headless Chromium.
//
// Run by crates/switchboard-tests/tests/ccp.rs
// (a_g722_caller_and_a_browser_agent_hear_each_others_upper_band): the
// microphone is a WAV file of beeps above 4 kHz ($CCP_MICROPHONE), which
// G.711 cannot carry. The agent takes one call on Opus, talks until the
// caller hangs up, and closes the contact. `STEP <name>` when the Rust side
// should act; `FAIL <why>` and a non-zero exit when something is wrong.
//
// Environment: CCP_URL, CCP_USER, CCP_PASSWORD, CCP_MICROPHONE.

import { agentState, echoErrors, expectOpus, failed, launch, signIn, step } from "./lib.mjs";

const { CCP_URL, CCP_USER, CCP_PASSWORD, CCP_MICROPHONE } = process.env;

const browser = await launch([`--use-file-for-fake-audio-capture=${CCP_MICROPHONE}`]);
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await context.grantPermissions(["microphone"], { origin: new URL(CCP_URL).origin });
const page = await context.newPage();
echoErrors(page);

const contact = (state) => page.locator(`.contact[data-state="${state}"]`);
const clickOn = (state, action) => contact(state).locator(`button[data-action="${action}"]`).click();

try {
  await signIn(page, CCP_URL, CCP_USER, CCP_PASSWORD);
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 30000 });
  await page.selectOption("#status-select", "Available");
  await agentState(page, "Available");
  step("READY");
  await contact("incoming").waitFor({ timeout: 30000 });
  await clickOn("incoming", "accept");
  await contact("connected").waitFor({ timeout: 30000 });
  await expectOpus(page, "Chromium");
  step("CONNECTED");
  // The caller hangs up when it has heard enough.
  await contact("ended").waitFor({ timeout: 60000 });
  await clickOn("ended", "close");
  await agentState(page, "Available");
  step("DONE");
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
