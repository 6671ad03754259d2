// scimd console: the only script. Copy buttons, and the connect page's live "last request"
// line. Every page works without it.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
for (const line of document.querySelectorAll("[data-last-seen]")) {
  const refresh = () => fetch(line.dataset.lastSeen, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((body) => { if (body && typeof body.text === "string") line.textContent = body.text; })
    .catch(() => {});
  setInterval(refresh, 5000);
}
