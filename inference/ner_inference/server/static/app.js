// The web page of the NER service. User text and server output only ever reach the page
// through textContent and createElement: never innerHTML, so markup in a text stays text.
"use strict";

const TYPES = ["PER", "LOC", "ORG"];
const NAMES = { PER: "person", LOC: "place", ORG: "organisation" };
const EXAMPLE = "李克强总理在北京会见了德国总理默克尔。中国人民银行在上海召开会议。";

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The API's offsets are Python str indices: Unicode code points. JavaScript strings index
// UTF-16 units, so slice an array of code points instead (emoji and rare Han characters
// outside the BMP take two units).
function highlight(text, entities) {
  const chars = Array.from(text);
  const fragment = document.createDocumentFragment();
  const sorted = entities
    .filter((e) => TYPES.includes(e.type) && e.start >= 0 && e.end <= chars.length && e.start < e.end)
    .sort((a, b) => a.start - b.start);
  let at = 0;
  for (const entity of sorted) {
    if (entity.start < at) continue; // overlapping spans: keep the first
    if (entity.start > at) fragment.append(document.createTextNode(chars.slice(at, entity.start).join("")));
    const mark = element("mark", `ent ent-${entity.type}`);
    mark.append(element("span", "ent-text", chars.slice(entity.start, entity.end).join("")));
    mark.append(element("span", "ent-tag", entity.type));
    mark.title = `${entity.type} (${NAMES[entity.type]}) [${entity.start}, ${entity.end})`;
    fragment.append(mark);
    at = entity.end;
  }
  if (at < chars.length) fragment.append(document.createTextNode(chars.slice(at).join("")));
  return fragment;
}

function countTypes(entities) {
  for (const type of TYPES) {
    const count = entities.filter((e) => e.type === type).length;
    document.querySelector(`[data-count="${type}"]`).textContent = String(count);
  }
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function detailOf(body, response) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && body.detail !== undefined) return JSON.stringify(body.detail);
  return `${response.status} ${response.statusText}`;
}

async function analyse(event) {
  if (event) event.preventDefault();
  const text = $("text").value;
  const button = $("analyse");
  button.disabled = true;
  showError("");
  $("meta").textContent = "";
  const started = performance.now();
  try {
    const response = await fetch("/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    const elapsed = performance.now() - started;
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    $("json").textContent = body === null ? "" : JSON.stringify(body, null, 2);
    if (!response.ok) {
      showError(`error ${response.status}: ${detailOf(body, response)}`);
      return;
    }
    const entities = Array.isArray(body.entities) ? body.entities : [];
    const target = $("highlighted");
    target.replaceChildren(highlight(text, entities));
    if (!text) target.replaceChildren(element("span", "hint", "(empty text)"));
    countTypes(entities);
    $("meta").textContent = `${entities.length} entities · ${elapsed.toFixed(0)} ms · ${body.model}`;
  } catch (error) {
    showError(`request failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function checkStatus() {
  const status = $("status");
  try {
    const response = await fetch("/ready", { cache: "no-store" });
    const body = await response.json();
    status.textContent = response.ok ? `online · ${body.model}` : `not ready · ${body.detail}`;
    status.className = response.ok ? "status online" : "status offline";
    if (!response.ok) setTimeout(checkStatus, 2000);
  } catch {
    status.textContent = "offline";
    status.className = "status offline";
    setTimeout(checkStatus, 5000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", analyse);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) analyse(event);
  });
  $("example").addEventListener("click", () => {
    $("text").value = EXAMPLE;
    analyse();
  });
  checkStatus();
});
