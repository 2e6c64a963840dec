// The dashboard's behaviour: changes through the /v1 API (session cookie + CSRF token), parts of
// pages re-rendered by the server when a live feed says something changed, live output lines,
// ticking durations. No polling: the WebSocket feeds say when to look again.
import { renderAnsi } from "./ansi.js";

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`/dashboard/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new Error("signed out");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const fields = (data?.extra ?? []).map((e) => `${e.key}: ${e.message}`).join("; ");
    throw new Error([data?.detail ?? `${response.status}`, fields].filter(Boolean).join(" — "));
  }
  return data;
}

export function showError(message) {
  const alert = document.getElementById("alert");
  alert.textContent = message;
  alert.hidden = false;
}

export function announce(message) {
  document.getElementById("announcer").textContent = message;
}

// --- fragments the server re-renders ----------------------------------------------------------

const pending = new Map();

export function refreshSoon(element, delay = 150) {
  if (!element || pending.has(element)) return;
  pending.set(element, setTimeout(() => refresh(element), delay));
}

async function refresh(element) {
  pending.delete(element);
  try {
    const response = await fetch(element.dataset.fragment, { headers: { Accept: "text/html" } });
    if (!response.ok && response.status !== 404) throw new Error(`${response.status}`);
    swap(element, await response.text());
  } catch (error) {
    showError(`Could not update the page (${error.message}); it updates again on the next change.`);
  }
}

function swap(element, html) {
  // What the person is doing survives the swap: typed text, focus, open logs.
  const typed = [...element.querySelectorAll("input[id], textarea[id]")].map((f) => [f.id, f.value]);
  const focused = element.contains(document.activeElement) ? document.activeElement.id : null;
  const open = [...element.querySelectorAll("details[open][id]")].map((d) => d.id);
  element.innerHTML = html;
  for (const [id, value] of typed) {
    const field = document.getElementById(id);
    if (field && value) field.value = value;
  }
  for (const id of open) document.getElementById(id)?.setAttribute("open", "");
  if (focused) document.getElementById(focused)?.focus();
  enhance(element);
}

export function enhance(root) {
  for (const details of root.querySelectorAll("details[data-log-url][open]")) loadLog(details);
  for (const block of root.querySelectorAll("[data-ansi]")) renderAnsi(block);
  for (const line of root.querySelectorAll("[data-ansi-lines] .line")) renderAnsi(line);
  tick();
}

// --- actions: buttons and forms that call the API ----------------------------------------------

async function act(source, method, path, body) {
  if (source.dataset.confirm && !confirm(source.dataset.confirm)) return;
  const controls = source.matches("form") ? source.querySelectorAll("button") : [source];
  controls.forEach((c) => (c.disabled = true));
  try {
    await api(method, path, body);
    document.getElementById("alert").hidden = true;
    if (source.matches("form")) source.reset();
    if (source.dataset.then === "reload") location.reload();
    else if (source.dataset.remove) source.closest(source.dataset.remove)?.remove();
    refreshSoon(source.closest("[data-fragment]") ?? document.querySelector(source.dataset.refresh), 0);
    announce("Done.");
  } catch (error) {
    showError(error.message);
    controls.forEach((c) => (c.disabled = false));
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  const [method, path] = button.dataset.action.split(" ");
  act(button, method, path, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-action]");
  if (!form) return;
  event.preventDefault();
  const [method, path] = form.dataset.action.split(" ");
  const body = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ""));
  act(form, method, path, body);
});

document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
});

// A step's whole log, read when first opened. The panel may be re-rendered while the log is on
// its way: it goes into whichever element carries the details' id by then, and a re-rendered
// open one (see `swap`) is read again.
async function loadLog(details) {
  if (!details.open || details.dataset.loaded) return;
  details.dataset.loaded = "1";
  let html;
  try {
    const response = await fetch(details.dataset.logUrl);
    html = await response.text();
  } catch (error) {
    html = `Could not read the log (${error.message}).`;
  }
  const current = (details.id && document.getElementById(details.id)) || details;
  current.dataset.loaded = "1";
  const body = current.querySelector(".log-body");
  body.innerHTML = html;
  enhance(body);
}

document.addEventListener(
  "toggle",
  (event) => {
    if (event.target.matches?.("details[data-log-url]")) loadLog(event.target);
  },
  true,
);

// --- durations tick while jobs run ------------------------------------------------------------

function formatDuration(seconds) {
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (h) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m) return `${m}m ${pad(s)}s`;
  return seconds < 10 ? `${seconds.toFixed(1)}s` : `${s}s`;
}

function tick() {
  for (const time of document.querySelectorAll("time.elapsed[data-started]:not([data-finished]):not([data-frozen])")) {
    time.textContent = formatDuration((Date.now() - Date.parse(time.dataset.started)) / 1000);
  }
}
setInterval(tick, 1000);

// --- live feeds ---------------------------------------------------------------------------------

function follow(path, { onMessage, onOpen }) {
  let delay = 500, ended = false;
  const open = async () => {
    try {
      const { token } = await api("POST", "/v1/live-tokens");
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const separator = path().includes("?") ? "&" : "?";
      const socket = new WebSocket(`${scheme}://${location.host}${path()}${separator}token=${token}`);
      socket.onopen = () => { delay = 500; onOpen?.(); };
      socket.onmessage = ({ data }) => {
        const message = JSON.parse(data);
        if (message.type === "end") ended = true;
        onMessage(message);
      };
      socket.onclose = (event) => {
        if (!ended && event.code !== 4404) setTimeout(open, delay);
      };
    } catch {
      setTimeout(open, delay);
    }
    delay = Math.min(delay * 2, 10000);
  };
  open();
}

async function refreshBell() {
  const { unread } = await api("GET", "/v1/notifications?unread=true&limit=1");
  const count = document.getElementById("unread-count");
  count.textContent = unread;
  count.hidden = unread === 0;
  count.closest("a").setAttribute("aria-label", `Notifications, ${unread} unread`);
}

const jobList = document.querySelector('[data-live="jobs"]');
let firstOpen = true;
follow(() => "/v1/live", {
  onOpen: () => {
    // After a reconnect the list is read again: changes made meanwhile are not replayed.
    if (!firstOpen) { refreshSoon(jobList); refreshBell(); }
    firstOpen = false;
  },
  onMessage: (message) => {
    if (message.type === "notification") {
      refreshBell();
      announce(message.notification?.title ?? "New notification");
    } else if (message.type === "job") refreshSoon(jobList, 100);
  },
});

const panel = document.querySelector('[data-live="job"]');
if (panel) {
  const log = document.getElementById("live-log");
  let afterSeq = Number(panel.dataset.afterSeq), afterLine = Number(panel.dataset.afterLine);
  follow(() => `/v1/jobs/${panel.dataset.jobId}/live?after_seq=${afterSeq}&after_line=${afterLine}`, {
    onMessage: (message) => {
      if (message.type === "event") {
        afterSeq = message.seq;
        refreshSoon(panel);
      } else if (message.type === "line" && message.seq > afterLine) {
        afterLine = message.seq;
        appendLine(log, message);
      } else if (message.type === "end") {
        document.getElementById("live-state").textContent = `ended: ${message.status}`;
        refreshSoon(panel, 0);
      }
    },
  });
}

const MAX_LINES = 5000;

function appendLine(log, message) {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const line = document.createElement("span");
  line.className = `line ${message.stream}`;
  line.dataset.seq = message.seq;
  line.textContent = message.text;
  renderAnsi(line);
  log.append(line, "\n");
  while (log.childNodes.length > 2 * MAX_LINES) log.firstChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

enhance(document);
