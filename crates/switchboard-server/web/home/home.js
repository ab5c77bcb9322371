// The landing page at `/`: names the instance, signs staff in (the staff
// pages' shared sign-in, so the apps opened from here need none), and
// links the apps the user's security profile opens.

import { $, el, Session, showSignIn, STAFF_TOKEN_KEY, wireSignIn } from "/shared/session.js";

/** Permissions that open the console: seeing any kind it edits. */
const CONSOLE = [
  "Users.View", "SecurityProfiles.View", "AgentStates.View", "HoursOfOperation.View", "Queues.View",
  "RoutingPolicies.View", "PhoneNumbers.View", "Prompts.View", "TransferDestinations.View",
  "ExternalFunctions.View", "SipTrunks.View", "ApiKeys.Manage", "AuditLog.View",
];

/** The apps, each with what it is for and the permissions that open it (any one). */
const APPS = [
  { id: "ccp", href: "/ccp", name: "Contact Control Panel", about: "Take calls and chats as an agent.", any: ["BasicAgentAccess"] },
  { id: "console", href: "/console", name: "Console", about: "Set up users, queues, hours, numbers, prompts and trunks.", any: CONSOLE },
  { id: "designer", href: "/console/designer", name: "Flow designer", about: "Draw, test and publish contact flows.", any: ["ContactFlows.View"] },
  {
    id: "reports", href: "/reports", name: "Reports", about: "Live queues and agents, history, usage and contact search.",
    any: ["AccessMetrics.RealTimeMetrics.Access", "AccessMetrics.HistoricalMetrics.Access", "AccessMetrics.Dashboards.Access", "ContactSearch.View"],
  },
  { id: "chat", href: "/chat/", name: "Chat sample", about: "The customer's chat, as a web site embeds it.", any: null },
];

/** The apps `permissions` open, in the order above (the chat sample is everyone's). */
export function appsFor(permissions) {
  const held = new Set(permissions);
  return APPS.filter((app) => app.any === null || app.any.some((p) => held.has(p)));
}

const session = new Session(STAFF_TOKEN_KEY, showSignIn);

async function showApps() {
  const me = await session.api("/me");
  const name = me.user.first_name || me.user.username;
  $("user-name").textContent = me.user.username;
  $("welcome").textContent = `Welcome, ${name}`;
  const apps = appsFor(me.permissions);
  $("apps").replaceChildren(
    ...apps.map((app) =>
      el("li", {}, el("a", { href: app.href, id: `app-${app.id}` }, el("strong", { text: app.name }), el("span", { text: app.about }))),
    ),
  );
  $("no-apps").hidden = apps.some((app) => app.any !== null);
  $("login").hidden = true;
  $("workspace").hidden = false;
}

async function showInstance() {
  const response = await fetch("/api/v1/instance").catch(() => null);
  if (!response?.ok) return;
  const instance = await response.json();
  for (const node of document.querySelectorAll(".instance-name")) node.textContent = instance.name;
  document.title = instance.name;
  $("version").textContent = `Switchboard ${instance.version}`;
}

$("logout").addEventListener("click", async () => {
  await session.signOut();
  showSignIn();
});
wireSignIn(session, showApps);
showInstance();
if (session.token()) showApps().catch(() => showSignIn());
else showSignIn();
