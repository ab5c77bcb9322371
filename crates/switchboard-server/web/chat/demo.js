// The demo page's own part: which flow it runs (?flow=NAME) and the snippet
// to copy. A file, not inline, so the page's Content-Security-Policy can
// refuse inline scripts.

const flow = new URLSearchParams(location.search).get("flow") || "Demo chat";
window.SwitchboardChatConfig = { flow, title: "Chat with us" };
document.getElementById("flow-name").textContent = flow;
document.getElementById("snippet").textContent =
  `<script type="module" src="${location.origin}/chat/widget.js"\n` +
  `        data-flow="${flow}" data-title="Chat with us"></` + `script>`;
