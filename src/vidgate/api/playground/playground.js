// The playground: a form driven by GET /api/v1/models, submissions with ?async=true, live
// progress from GET /api/v1/jobs/{id}/events, the key's recent jobs and its quota. The key is
// kept in this tab's session storage and sent only in the Authorization header (EventSource
// cannot send headers, so the event stream is read with fetch).

const BASE = new URL(".", window.location.href);
const KEY_ITEM = "vidgate.key";
const KEY_PATTERN = /^sk_(test_)?[0-9a-f]{64}$/;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const MODE_NAMES = { text_to_video: "Text to video", image_to_video: "Image to video", video_to_video: "Video to video" };
const SOURCE_FIELD = { image_to_video: "source_image", video_to_video: "source_video" };

const $ = (id) => document.getElementById(id);
const state = { models: [], defaults: {}, following: null, refreshTimer: null, mode: null, jobsAsked: 0 };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function key() {
  return sessionStorage.getItem(KEY_ITEM);
}

async function call(path, { method = "GET", json, form, auth = true } = {}) {
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${key()}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(new URL(`api/v1/${path}`, BASE), { method, headers, body });
  } catch (error) {
    throw new ApiError(0, "The server could not be reached");
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (error) {
    parsed = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (parsed && parsed.error) || text || response.statusText);
  }
  return parsed;
}

// --- errors ------------------------------------------------------------------------------

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = error.status ? `${error.message} (HTTP ${error.status})` : error.message;
  box.hidden = false;
}

// --- key and quota -----------------------------------------------------------------------

function showKey() {
  const current = key();
  $("key-form").hidden = Boolean(current);
  $("key-status").hidden = !current;
  $("submit").disabled = !current;
  if (current) {
    $("key-shown").textContent = `Using ${current.slice(0, current.startsWith("sk_test_") ? 14 : 9)}…`;
  }
}

async function refreshQuota() {
  const asked = key();
  if (!asked) return;
  try {
    const quota = await call("quota");
    if (key() !== asked) return; // the key changed meanwhile: this answer is another key's
    const credits = quota.quotas.credits;
    const seconds = quota.quotas.video_seconds;
    $("quota").textContent = `${credits.remaining} credits and ${seconds.remaining} video seconds left`;
  } catch (error) {
    if (key() !== asked) return;
    $("quota").textContent = "";
    if (error.status === 401) forgetKey(error);
  }
}

async function useKey(event) {
  event.preventDefault();
  const given = $("key-input").value.trim();
  if (!KEY_PATTERN.test(given)) {
    showError(new ApiError(0, "A key is sk_ or sk_test_ followed by 64 hex digits"));
    return;
  }
  stopRefreshing();
  sessionStorage.setItem(KEY_ITEM, given);
  $("key-input").value = "";
  showError(null);
  showKey();
  await Promise.all([refreshQuota(), refreshJobs()]);
}

function stopRefreshing() {
  if (state.following) state.following.abort();
  state.jobsAsked += 1; // answers still on their way are for the key before
  clearTimeout(state.refreshTimer);
}

function forgetKey(error) {
  stopRefreshing();
  sessionStorage.removeItem(KEY_ITEM);
  showKey();
  $("jobs").tBodies[0].replaceChildren();
  $("quota").textContent = "";
  showError(error instanceof ApiError ? error : null);
  $("key-input").focus();
}

// --- the form, from the catalog ----------------------------------------------------------

function selected() {
  return state.models.find((model) => model.id === $("model").value);
}

function fill(select, values, { keep = true, preferred, label = String } = {}) {
  const previous = select.value;
  select.replaceChildren(...values.map((value) => new Option(label(value), String(value))));
  const wanted = [keep ? previous : null, preferred].map((v) => (v == null ? null : String(v)));
  const found = wanted.find((value) => value !== null && values.map(String).includes(value));
  if (found) select.value = found;
}

function allowedDurations(model) {
  // A limit narrows the clip lengths when the request has one of its values.
  const current = { resolution: $("resolution").value, fps: $("fps").value, aspect_ratio: $("aspect").value };
  for (const limit of model.limits) {
    const applies = Object.entries(limit.when).every(([name, values]) => values.map(String).includes(current[name]));
    if (applies) return limit.output_durations;
  }
  return model.output_durations;
}

function onModelChange() {
  const model = selected();
  if (!model) return;
  $("model-about").textContent = `${model.best_for}. ${model.tier} tier, ${model.pricing.credits_per_second} credits per second.`;
  fill($("mode"), model.modes, { preferred: "text_to_video", label: (mode) => MODE_NAMES[mode] || mode });
  fill($("resolution"), model.resolutions, { preferred: "720p" });
  fill($("fps"), model.fps, { preferred: 30 });
  onModeChange();
}

function onModeChange() {
  const model = selected();
  const mode = $("mode").value;
  const sourceField = SOURCE_FIELD[mode];
  $("source").hidden = !sourceField;
  if (sourceField) {
    const kind = sourceField === "source_image" ? "image" : "video";
    $("source-legend").textContent = `Source ${kind}`;
    $("source-file").accept = `${kind}/*`;
  }
  const aspects = sourceField ? ["auto", ...model.aspect_ratios] : model.aspect_ratios;
  const modeChanged = state.mode !== mode;  // a new mode starts from the API's default shape
  state.mode = mode;
  fill($("aspect"), aspects, {
    keep: !modeChanged,
    preferred: sourceField ? "auto" : "16:9",
    label: (value) => (value === "auto" ? "auto (the source's shape)" : value),
  });
  onShapeChange();
}

function onShapeChange() {
  const model = selected();
  const lengths = allowedDurations(model);
  const number = $("duration");
  const choice = $("duration-choice");
  number.hidden = Boolean(lengths);
  choice.hidden = !lengths;
  if (lengths) {
    fill(choice, lengths, { preferred: lengths[0] });
  } else {
    number.min = String(model.duration_seconds.min);
    number.max = String(model.duration_seconds.max);
    const value = Number(number.value);
    if (!(value >= model.duration_seconds.min && value <= model.duration_seconds.max)) {
      number.value = String(Math.min(5, model.duration_seconds.max));
    }
  }
  updateEstimate();
}

function duration() {
  return Number($("duration-choice").hidden ? $("duration").value : $("duration-choice").value);
}

function updateEstimate() {
  const model = selected();
  const seconds = Math.ceil(duration() - 1e-9);
  $("estimate").textContent = Number.isFinite(seconds) && seconds > 0
    ? `${seconds * model.pricing.credits_per_second} credits, ${seconds} video seconds (billed per started second)`
    : "-";
}

async function loadModels() {
  const catalog = await call("models", { auth: false });
  state.models = catalog.data;
  state.defaults = catalog.defaults;
  fill($("model"), state.models.map((model) => model.id), {
    keep: false, preferred: "vidgate/local",
    label: (id) => `${state.models.find((model) => model.id === id).title} (${id})`,
  });
  onModelChange();
}

// --- submitting and following a job ------------------------------------------------------

async function sourceUrl(mode) {
  const field = SOURCE_FIELD[mode];
  if (!field) return {};
  const file = $("source-file").files[0];
  if (file) {
    setLine(`Uploading ${file.name}…`);
    const form = new FormData();
    form.append("file", file, file.name);
    const upload = await call("files", { method: "POST", form });
    return { [field]: upload.url };
  }
  const url = $("source-url").value.trim();
  if (!url) throw new ApiError(0, `${field} is required for ${mode}: upload a file or give its URL`);
  return { [field]: url };
}

function requestBody() {
  const body = {
    prompt: $("prompt").value,
    model: $("model").value,
    mode: $("mode").value,
    duration_seconds: duration(),
    resolution: $("resolution").value,
    fps: Number($("fps").value),
    aspect_ratio: $("aspect").value,
    prompt_optimizer: $("optimizer").checked,
    loop: $("loop").checked,
  };
  const negative = $("negative").value.trim();
  if (negative) body.negative_prompt = negative;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

async function generate(event) {
  event.preventDefault();
  showError(null);
  $("submit").disabled = true;
  try {
    const body = { ...requestBody(), ...(await sourceUrl($("mode").value)) };
    const job = await call("videos/generations?async=true", { method: "POST", json: body });
    resetResult();
    setLine(`Job ${job.id}: ${job.status}`);
    refreshJobs();
    refreshQuota();
    follow(job.id);
  } catch (error) {
    setLine("Nothing made: see the error below the form.");
    showError(error);
  } finally {
    $("submit").disabled = !key();
  }
}

function setLine(text) {
  $("job-line").textContent = text;
}

function resetResult() {
  const video = $("video");
  video.hidden = true;
  video.removeAttribute("src");
  video.removeAttribute("poster");
  video.load();
  $("facts").hidden = true;
  $("facts").replaceChildren();
  $("progress").hidden = true;
}

async function follow(jobId) {
  if (state.following) state.following.abort();
  const controller = new AbortController();
  state.following = controller;
  let lastId = null;
  for (let tries = 0; tries < 20 && !controller.signal.aborted; tries += 1) {
    try {
      const headers = { Authorization: `Bearer ${key()}`, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(new URL(`api/v1/jobs/${jobId}/events`, BASE), { headers, signal: controller.signal });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        throw new ApiError(response.status, answer.error || response.statusText);
      }
      for await (const event of serverSentEvents(response.body)) {
        if (event.id) lastId = event.id;
        if (event.event !== "job") continue;
        const job = JSON.parse(event.data);
        showJob(job);
        if (TERMINAL.has(job.status)) {
          refreshJobs();
          refreshQuota();
          return;
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError) {
        showError(error);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the stream dropped: resume it
  }
}

async function* serverSentEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (end === buffer.length - 1 && buffer[end] === "\r") break; // a \n may follow in the next chunk
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        if (event.data.length) yield { event: event.event || "message", id: event.id, data: event.data.join("\n") };
        event = { data: [] };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "data") event.data.push(text);
        else if (name === "event" || name === "id") event[name] = text;
      }
    }
  }
}

function showJob(job) {
  const place = job.queuePosition ? `, place ${job.queuePosition} in the queue` : "";
  setLine(`Job ${job.id}: ${job.status}${job.status === "processing" ? ` ${job.progress}%` : ""}${place}`);
  const bar = $("progress");
  bar.hidden = TERMINAL.has(job.status);
  bar.value = job.progress;
  if (job.status === "completed") showVideo(job);
  if (job.status === "failed") showError(new ApiError(0, `Video generation failed: ${job.errorMessage}`));
}

function showVideo(job) {
  const video = job.outputData.video;
  const element = $("video");
  if (!video.url) {
    setLine(`Job ${job.id}: completed; its files were deleted by retention`);
    return;
  }
  element.poster = video.thumbnail_url || "";
  element.src = video.url;
  element.hidden = false;
  const facts = [
    ["Size", `${video.width} x ${video.height}`],
    ["Frames per second", String(video.fps)],
    ["Duration", `${video.duration_seconds} s`],
    ["Credits used", String(job.actualCredits)],
    ["Model", `${job.model} (rendered by ${job.provider})`],
    ["Seed", String(job.outputData.seed)],
  ];
  if (job.outputData.optimized_prompt) facts.push(["Optimized prompt", job.outputData.optimized_prompt]);
  const link = document.createElement("a");
  link.href = video.url;
  link.textContent = "video.mp4";
  link.download = `${job.id}.mp4`;
  facts.push(["Download", link]);
  $("facts").replaceChildren(...facts.flatMap(([name, value]) => {
    const term = document.createElement("dt");
    const detail = document.createElement("dd");
    term.textContent = name;
    detail.append(value);
    return [term, detail];
  }));
  $("facts").hidden = false;
}

// --- recent jobs -------------------------------------------------------------------------

async function refreshJobs() {
  if (!key()) return;
  const asked = ++state.jobsAsked;
  let listed;
  try {
    listed = await call("jobs?limit=10");
  } catch (error) {
    if (asked === state.jobsAsked && error.status === 401) forgetKey(error);
    return;
  }
  if (asked !== state.jobsAsked) return; // a later refresh (or another key) came since: this answer is older
  const rows = listed.jobs.map(jobRow);
  $("jobs").tBodies[0].replaceChildren(...rows);
  clearTimeout(state.refreshTimer);
  if (listed.jobs.some((job) => !TERMINAL.has(job.status))) {
    state.refreshTimer = setTimeout(() => { refreshJobs(); refreshQuota(); }, 3000);
  }
}

function jobRow(job) {
  const row = document.createElement("tr");
  row.dataset.job = job.id;
  const cells = [document.createElement("td"), document.createElement("td"), document.createElement("td"),
    document.createElement("td"), document.createElement("td")];
  const id = document.createElement("code");
  id.textContent = job.id;
  cells[0].append(id);
  cells[1].textContent = job.status === "processing" ? `processing ${job.progress}%` : job.status;
  cells[1].className = `status-${job.status}`;
  cells[2].textContent = job.model;
  cells[3].textContent = new Date(job.createdAt).toLocaleString();
  if (!TERMINAL.has(job.status)) {
    cells[4].append(button("Cancel", `Cancel job ${job.id}`, "danger", () => cancel(job.id)));
  } else if (job.status === "completed") {
    cells[4].append(button("Show", `Show job ${job.id}`, "quiet", () => { resetResult(); showJob(job); }));
  }
  row.append(...cells);
  return row;
}

function button(text, label, kind, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = kind;
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", action);
  return element;
}

async function cancel(jobId) {
  showError(null);
  try {
    await call(`jobs/${jobId}/cancel`, { method: "POST" });
  } catch (error) {
    showError(error);
  }
  refreshJobs();
  refreshQuota();
}

// --- start -------------------------------------------------------------------------------

function start() {
  $("key-form").addEventListener("submit", useKey);
  $("forget-key").addEventListener("click", () => forgetKey(null));
  $("model").addEventListener("change", onModelChange);
  $("mode").addEventListener("change", onModeChange);
  for (const id of ["resolution", "fps", "aspect"]) $(id).addEventListener("change", onShapeChange);
  for (const id of ["duration", "duration-choice"]) $(id).addEventListener("input", updateEstimate);
  $("generate-form").addEventListener("submit", generate);
  $("refresh-jobs").addEventListener("click", () => { refreshJobs(); refreshQuota(); });
  showKey();
  loadModels().catch(showError);
  refreshQuota();
  refreshJobs();
}

start();
