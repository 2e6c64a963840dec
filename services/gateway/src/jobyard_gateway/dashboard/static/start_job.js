// The start form: an agent or script job as `POST /v1/jobs` takes it, its input files uploaded
// first straight to storage (`POST /v1/files`, then the presigned target, then `…/complete`).
import { api, showError } from "./dashboard.js";

const form = document.getElementById("start-job");
const steps = document.getElementById("steps");
const stepTemplate = document.getElementById("step-template");
const uploadState = document.getElementById("upload-state");

function showKind() {
  const kind = form.elements.kind.value;
  for (const section of form.querySelectorAll("[data-kind]")) section.hidden = section.dataset.kind !== kind;
}
form.addEventListener("change", (event) => { if (event.target.name === "kind") showKind(); });
showKind();

document.getElementById("add-step").addEventListener("click", () => {
  steps.append(stepTemplate.content.cloneNode(true));
  steps.lastElementChild.querySelector("input").focus();
});
steps.addEventListener("click", (event) => {
  if (event.target.matches(".remove-step")) event.target.closest("li").remove();
});

function stepOf(row) {
  const field = (name) => row.querySelector(`[name="${name}"]`).value.trim();
  const title = field("step_title"), body = field("step_body");
  const kind = field("step_kind");
  if (kind === "ask") {
    const choices = field("step_choices").split(",").map((c) => c.trim()).filter(Boolean);
    return { title, ask: body, choices };
  }
  return kind === "instruction" ? { title, instruction: body } : { title, script: body };
}

function envOf(text) {
  const env = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at > 0) env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function upload(file) {
  uploadState.textContent = `Uploading ${file.name}…`;
  const declared = { name: file.name, size: file.size, sha256: await sha256(file) };
  if (file.type) declared.content_type = file.type;
  const { file: record, upload: target } = await api("POST", "/v1/files", declared);
  let parts = [];
  if (target.method === "post") {
    const body = new FormData();
    for (const [key, value] of Object.entries(target.fields)) body.append(key, value);
    body.append("file", file);
    // Storage answers without CORS headers: the bytes go, the completion below checks them.
    await fetch(target.url, { method: "POST", body, mode: "no-cors" });
  } else {
    for (const part of target.parts) {
      const start = (part.number - 1) * target.part_size;
      const sent = await fetch(part.url, { method: "PUT", body: file.slice(start, start + target.part_size) });
      parts.push({ number: part.number, etag: sent.headers.get("ETag") });
    }
  }
  const done = await api("POST", `/v1/files/${record.id}/complete`, { parts });
  uploadState.textContent = `${file.name}: ${done.status}`;
  return record.id;
}

function bodyOf(inputs) {
  const f = form.elements;
  const number = (name) => (f[name].value ? Number(f[name].value) : undefined);
  const common = {
    vcpus: number("vcpus"),
    memory_mb: number("memory_mb"),
    timeout: number("timeout"),
    image: f.image.value,
    network: f.network.value,
    inputs: inputs.length ? inputs : undefined,
  };
  if (f.kind.value === "agent") {
    const planned = [...steps.children].map(stepOf);
    return {
      kind: "agent",
      instruction: f.instruction.value,
      steps: planned.length ? planned : undefined,
      chat_id: f.chat_id.value.trim() || undefined,
      ...common,
    };
  }
  return {
    kind: "script",
    name: f.name.value.trim(),
    script: f.script.value,
    env: envOf(f.env.value),
    stateful: f.stateful.checked,
    persistent: f.persistent.checked,
    ssh_public_key: f.ssh_public_key.value.trim() || undefined,
    ...common,
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const inputs = [];
    for (const file of form.elements.inputs.files) inputs.push(await upload(file));
    const job = await api("POST", "/v1/jobs", bodyOf(inputs));
    location.assign(`/dashboard/jobs/${job.id}`);
  } catch (error) {
    showError(error.message);
    button.disabled = false;
  }
});
