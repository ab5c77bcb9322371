// The landing page at `/` in Chromium: it names the instance, signs staff
// in, and links the apps each user's permissions open; the sign-in carries
// to the console, whose brand leads back; the chat sample runs the demo's
// chat flow; the icon is served. axe-core checks each state for serious
// or critical violations. Steps are printed for the Rust side.

import { axe, echoErrors, fail, failed, launch, screenshots, step, submitSignIn } from "./lib.mjs";

const base = process.env.HOME_URL;
const shoot = screenshots(process.env.HOME_ARTIFACTS);
const browser = await launch();

async function apps(page) {
  await page.waitForSelector("#workspace:not([hidden]) #apps li", { timeout: 30000 });
  return page.$$eval("#apps a", (links) => links.map((a) => a.id));
}

async function clean(page, label) {
  const bad = await axe(page, label);
  if (bad.length) fail(`axe on ${label}: ${bad.join("; ")}`);
}

try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  echoErrors(page, "home");
  await page.goto(`${base}/`);
  await page.waitForSelector("#login:not([hidden])");
  await page.waitForFunction(
    (name) => document.querySelector(".instance-name").textContent === name,
    process.env.INSTANCE_NAME,
  );
  await clean(page, "sign-in");
  await shoot(page, "sign-in");
  step("SIGN_IN_SHOWN");

  await submitSignIn(page, process.env.AGENT_USER, process.env.AGENT_PASSWORD);
  const agentApps = await apps(page);
  if (agentApps.join(",") !== "app-ccp,app-chat") fail(`the agent sees ${agentApps}`);
  await clean(page, "agent");
  await shoot(page, "agent");
  // The CCP opens signed in as the same agent, and leads back.
  await page.click("#app-ccp");
  await page.waitForURL(`${base}/ccp`);
  await page.waitForSelector("#workspace:not([hidden])", { timeout: 30000 });
  await page.click("a.brand");
  await page.waitForURL(`${base}/`);
  await apps(page);
  step("AGENT_APPS");

  await page.click("#logout");
  await page.waitForSelector("#login:not([hidden])");
  await submitSignIn(page, "admin", process.env.ADMIN_PASSWORD);
  const adminApps = await apps(page);
  if (adminApps.join(",") !== "app-ccp,app-console,app-designer,app-reports,app-chat") fail(`the admin sees ${adminApps}`);
  await clean(page, "admin");
  await shoot(page, "admin");
  step("ADMIN_APPS");

  // The console opens signed in, and its brand leads back.
  await page.click("#app-console");
  await page.waitForURL(`${base}/console`);
  await page.waitForSelector("#workspace:not([hidden])", { timeout: 30000 });
  await page.click("a.brand");
  await page.waitForURL(`${base}/`);
  await page.waitForSelector("#workspace:not([hidden]) #apps li", { timeout: 30000 });
  step("ROUND_TRIP");

  const small = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await small.goto(`${base}/`);
  // A new page is a new browser context: it signs in again.
  await small.waitForSelector("#login:not([hidden])");
  await submitSignIn(small, "admin", process.env.ADMIN_PASSWORD);
  await apps(small);
  const width = await small.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) fail(`the page is ${width} px wide at 390`);
  await clean(small, "phone width");
  await shoot(small, "phone");
  step("PHONE_WIDTH");

  const icon = await page.request.get(`${base}/favicon.ico`);
  if (icon.status() !== 200) fail(`/favicon.ico: ${icon.status()}`);
  await page.goto(`${base}/chat/`);
  await page.waitForFunction(() => document.getElementById("flow-name")?.textContent === "Demo chat");
  step("CHAT_SAMPLE");
  step("DONE");
} catch (e) {
  failed(e);
} finally {
  await browser.close();
}
