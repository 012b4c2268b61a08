// The search page: one request per search, results rendered as cards. No framework, no network
// beyond this server. When the server requires API keys, the key typed in #api-key is kept in
// localStorage and sent with every call: as x-goog-api-key on fetches, and as the `key` query
// parameter on media and thumbnail URLs (an <img> or <audio> cannot send headers).
"use strict";

const $ = (id) => document.getElementById(id);
const results = $("results");
const status = $("status");
const keyInput = $("api-key");
const KEY_STORAGE = "omnivec.apiKey";

keyInput.value = localStorage.getItem(KEY_STORAGE) || "";
keyInput.addEventListener("change", () => {
  const key = keyInput.value.trim();
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
});

function apiKey() {
  return keyInput.value.trim();
}

function withKey(url) {
  const key = apiKey();
  return key ? `${url}${url.includes("?") ? "&" : "?"}key=${encodeURIComponent(key)}` : url;
}

function clock(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function where(hit) {
  if (hit.page_start !== undefined) {
    return hit.page_start === hit.page_end ? `p. ${hit.page_start}` : `pp. ${hit.page_start}–${hit.page_end}`;
  }
  if (hit.start_s !== undefined) return `${clock(hit.start_s)}–${clock(hit.end_s)}`;
  return "";
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function card(hit, rank) {
  const item = el("article", { class: `result ${hit.modality}`, "data-source": hit.source, "data-rank": rank });
  if (hit.thumbnail_url) {
    const link = el("a", { href: withKey(hit.media_url) + (hit.start_s !== undefined ? `#t=${hit.start_s}` : ""), target: "_blank" });
    link.append(el("img", { class: "thumb", src: withKey(hit.thumbnail_url), alt: hit.name, loading: "lazy" }));
    item.append(link);
  }
  if (hit.modality === "audio") {
    const start = hit.start_s || 0;
    const end = hit.end_s !== undefined ? `,${hit.end_s}` : "";
    item.append(el("audio", { controls: "", preload: "metadata", src: `${withKey(hit.media_url)}#t=${start}${end}` }));
  }
  if (hit.modality === "video") {
    const video = el("video", { controls: "", preload: "none", src: `${withKey(hit.media_url)}#t=${hit.start_s || 0}` });
    video.hidden = true;
    item.querySelector("a")?.addEventListener("click", (event) => {
      event.preventDefault();
      item.querySelector("a").hidden = true;
      video.hidden = false;
      video.play().catch(() => {});
    });
    item.append(video);
  }
  const meta = el("div", { class: "meta" });
  const title = el("a", { class: "name", href: withKey(hit.media_url), target: "_blank", title: hit.source }, hit.name);
  meta.append(title);
  const line = el("div", { class: "line" });
  line.append(el("span", { class: `badge ${hit.modality}` }, hit.modality));
  const w = where(hit);
  if (w) line.append(el("span", { class: "where" }, w));
  line.append(el("span", { class: "score", title: "cosine similarity" }, hit.score.toFixed(3)));
  meta.append(line);
  if (hit.snippet) meta.append(el("p", { class: "snippet" }, hit.snippet));
  item.append(meta);
  return item;
}

async function run(request, label) {
  status.textContent = `Searching ${label}…`;
  status.className = "";
  results.replaceChildren();
  document.body.classList.add("busy");
  try {
    const key = apiKey();
    if (key) request.headers = { ...request.headers, "x-goog-api-key": key };
    const response = await fetch("/v1/search", request);
    const body = await response.json();
    if (response.status === 401) {
      document.body.classList.add("needs-key");
      keyInput.focus();
      throw new Error(key
        ? "The API key was refused: check it in the API key field and search again."
        : "This server requires an API key: enter it in the API key field and search again.");
    }
    document.body.classList.remove("needs-key");
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    results.replaceChildren(...body.results.map(card));
    status.textContent = body.results.length
      ? `${body.results.length} results for ${label}`
      : `Nothing found for ${label}`;
  } catch (error) {
    status.textContent = String(error.message || error);
    status.className = "error";
  } finally {
    document.body.classList.remove("busy");
    document.body.dataset.searched = "true";
  }
}

function modalities() {
  return $("modality").value ? [$("modality").value] : [];
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  if (!query) return;
  run({
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, k: 12, modalities: modalities() }),
  }, `“${query}”`);
});

function searchFile(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("k", "12");
  form.append("modalities", modalities().join(","));
  run({ method: "POST", body: form }, file.name);
}

const drop = $("drop-zone");
$("file-input").addEventListener("change", (event) => {
  if (event.target.files.length) searchFile(event.target.files[0]);
  event.target.value = "";
});
for (const kind of ["dragenter", "dragover"]) {
  drop.addEventListener(kind, (event) => { event.preventDefault(); drop.classList.add("over"); });
}
for (const kind of ["dragleave", "drop"]) {
  drop.addEventListener(kind, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer.files.length) searchFile(event.dataTransfer.files[0]);
});
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") $("file-input").click();
});
