// The agent's side of the CCP in Firefox: Debian's firefox-esr, driven over
// WebDriver BiDi by puppeteer-core (no browser download).
//
// Run by crates/switchboard-tests/tests/ccp_firefox.rs, which starts
// Switchboard and the SIPp caller. Firefox runs with its stock network
// settings: it ignores loopback ICE candidates, so the softphone must offer
// an address of the machine it reaches. Only fake media and the microphone
// permission are set (not media.navigator.permission.disabled, which breaks
// ICE). Prints `STEP <name>` lines and `FAIL <why>` as the Chromium script does.
//
// Environment: CCP_URL, CCP_USER, CCP_PASSWORD, CCP_ARTIFACTS, FIREFOX.

import puppeteer from "puppeteer-core";
import { echoErrors, expectOpus, failed, fail, screenshots, step } from "./lib.mjs";

const { CCP_URL, CCP_USER, CCP_PASSWORD, CCP_ARTIFACTS = "artifacts/ccp-firefox", FIREFOX = "/usr/bin/firefox-esr", ICE_LOOPBACK } = process.env;
const shoot = screenshots(CCP_ARTIFACTS);
// Generous: CI's machine is busy, and each wait ends as soon as its event comes.
const WAIT = 30000;

const prefs = {
  "media.navigator.streams.fake": true,
  "permissions.default.microphone": 1,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
};
// Only on a machine with no address but loopback (the Rust side decides).
if (ICE_LOOPBACK) prefs["media.peerconnection.ice.loopback"] = true;
const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: FIREFOX,
  headless: true,
  timeout: 120000,
  extraPrefsFirefox: prefs,
});
const page = await browser.newPage();
page.setDefaultTimeout(60000);
page.setDefaultNavigationTimeout(60000);
await page.setViewport({ width: 1280, height: 800 });
echoErrors(page, "firefox");

const contact = (state) => `.contact[data-state="${state}"]`;
const button = (state, action) => `${contact(state)} button[data-action="${action}"]`;
const agentState = (state) => page.waitForSelector(`#agent-status[data-state="${state}"]`, { timeout: WAIT });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// What the browser has heard of the caller: the energy of the audio it
// played where Firefox reports it, else the packets it received.
async function heard() {
  const stats = await page.evaluate(() => window.ccpAudioStats());
  const inbound = stats?.inbound;
  return inbound?.energy ?? inbound?.packets ?? 0;
}

// The agent and the caller talk for 2.5 s, and the browser hears the caller
// (waited for, not timed: a busy machine may take a while to start audio).
async function expectHearing(what) {
  const before = await heard();
  await pause(2500);
  const deadline = Date.now() + WAIT;
  let after = await heard();
  while (!(after > before) && Date.now() < deadline) {
    await pause(250);
    after = await heard();
  }
  console.log(`heard ${what}: ${before} -> ${after}`);
  if (!(after > before)) fail(`Firefox heard no audio ${what}`);
  await expectOpus(page, "Firefox " + what);
}

try {
  await page.goto(`${CCP_URL}/ccp`);
  await page.type("#username", CCP_USER);
  await page.type("#password", CCP_PASSWORD);
  await page.click("#login-button");
  await page.waitForSelector("#workspace:not([hidden])", { timeout: WAIT });
  // The audio check: the peer connection is up and our microphone reaches the server.
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 60000 });
  await shoot(page, "signed-in-audio-checked");
  await page.select("#status-select", "Available");
  await agentState("Available");
  step("READY");

  await page.waitForSelector(button("incoming", "accept"), { timeout: 60000 });
  await page.click(button("incoming", "accept"));
  await page.waitForSelector(contact("connected"), { timeout: WAIT });
  await agentState("OnContact");
  await expectHearing("once connected");
  await shoot(page, "connected");
  step("CONNECTED");

  await page.click(button("connected", "hold"));
  await page.waitForSelector(contact("on_hold"), { timeout: WAIT });
  await pause(2000); // a 2 s hold, which the record counts
  await page.click(button("on_hold", "resume"));
  await page.waitForSelector(contact("connected"), { timeout: WAIT });

  await page.reload();
  await page.waitForSelector("#workspace:not([hidden])", { timeout: WAIT });
  await page.waitForSelector(contact("connected"), { timeout: WAIT });
  await page.waitForSelector('#check-path[data-ok="true"]', { timeout: 60000 });
  await expectHearing("after a reload");
  await shoot(page, "reconnected-mid-call");
  step("RELOADED");

  await pause(2000); // talk on after the reload; the recording must carry it
  await page.click(button("connected", "end"));
  await page.click(button("connected", "end-confirm"));
  await page.waitForSelector(contact("ended"), { timeout: WAIT });
  await agentState("AfterContactWork");
  await page.click(button("ended", "close"));
  await agentState("Available");
  step("ENDED");
} catch (e) {
  failed(e);
  await shoot(page, "failure").catch(() => {});
} finally {
  await browser.close();
}
