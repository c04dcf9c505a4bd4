// bwcolor edit: place colour hints on a photo, with the model's suggestions and a live preview.
// Photo coordinates are pixels of the photo as displayed upright (the hints files' coordinates).
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const view = $("view");
const ctx = view.getContext("2d");

const state = {
  photos: [], index: 0, info: null,
  points: [], strokes: [], baseStrokes: null, // strokes: [{color, size, path: [[x, y], ...]}]
  selected: -1, pending: null, history: [], future: [], dirty: false,
  gray: null, colour: null, original: false,
  scale: 1, tx: 0, ty: 0, tool: "point",
  previewBusy: false, previewWanted: false, previews: 0,
};
const layer = document.createElement("canvas"); // the strokes at the photo's size

function call(path, body) {
  const init = { headers: { "X-Bwcolor-Token": token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then(async (r) => {
    if (!r.ok) {
      let message = r.statusText;
      try { message = (await r.json()).error; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return r;
  });
}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("not an image"));
    img.src = URL.createObjectURL(blob);
  });
}

// ---- photos ------------------------------------------------------------------------------------

async function openPhoto(index) {
  if (state.dirty && !confirm("This photo's hints are not saved. Leave it anyway?")) return;
  state.index = index;
  const info = await (await call(`/api/photo/${index}`)).json();
  state.info = info;
  state.points = info.points.map((p) => ({ x: p.x, y: p.y, color: p.color, radius: p.radius }));
  state.strokes = [];
  state.selected = -1; state.pending = null; state.history = []; state.future = [];
  state.baseStrokes = null;
  layer.width = info.width; layer.height = info.height;
  if (info.strokes) {
    state.baseStrokes = await loadImage(await (await call(`/api/photo/${index}/strokes.png`)).blob());
  }
  redrawLayer();
  $("name").textContent = `${info.name} (${index + 1}/${state.photos.length})`;
  $("prev").disabled = index === 0;
  $("next").disabled = index === state.photos.length - 1;
  state.gray = await loadImage(await (await call(`/api/photo/${index}/gray.jpg`)).blob());
  state.colour = null;
  fit();
  setDirty(false);
  renderHints();
  if (info.hint_problem) say(info.hint_problem, true);
  requestPreview();
}

// ---- preview -----------------------------------------------------------------------------------

function hintsBody() {
  const hasStrokes = state.strokes.length > 0 || state.baseStrokes !== null;
  return {
    points: state.points.map((p) => (p.radius ? { x: p.x, y: p.y, color: p.color, radius: p.radius } : { x: p.x, y: p.y, color: p.color })),
    strokes: hasStrokes ? layer.toDataURL("image/png") : null,
  };
}

async function requestPreview() {
  state.previewWanted = true;
  if (state.previewBusy) return;
  state.previewBusy = true;
  while (state.previewWanted) {
    state.previewWanted = false;
    const index = state.index;
    const started = performance.now();
    try {
      const blob = await (await call(`/api/photo/${index}/preview`, hintsBody())).blob();
      const img = await loadImage(blob);
      if (index === state.index) {
        state.colour = img;
        state.previews += 1;
        document.body.dataset.previews = String(state.previews);
        say(`Preview updated in ${Math.round(performance.now() - started)} ms.`);
        draw();
      }
    } catch (e) {
      say(`Preview failed: ${e.message}`, true);
    }
  }
  state.previewBusy = false;
}

// ---- drawing -----------------------------------------------------------------------------------

function fit() {
  const rect = view.getBoundingClientRect();
  view.width = Math.max(1, Math.round(rect.width));
  view.height = Math.max(1, Math.round(rect.height));
  if (!state.info) return;
  state.scale = Math.min(view.width / state.info.width, view.height / state.info.height);
  state.tx = (view.width - state.info.width * state.scale) / 2;
  state.ty = (view.height - state.info.height * state.scale) / 2;
  draw();
}

function draw() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, view.width, view.height);
  if (!state.info) return;
  const { width, height } = state.info;
  ctx.setTransform(state.scale, 0, 0, state.scale, state.tx, state.ty);
  const picture = state.original || !state.colour ? state.gray : state.colour;
  if (picture) ctx.drawImage(picture, 0, 0, width, height);
  if (!state.original) {
    ctx.globalAlpha = 0.85;
    ctx.drawImage(layer, 0, 0);
    ctx.globalAlpha = 1;
    state.points.forEach((p, i) => marker(p.x, p.y, p.color, i === state.selected));
    if (state.pending) marker(state.pending.x, state.pending.y, null, true);
  }
}

function marker(x, y, color, selected) {
  const r = 7 / state.scale;
  ctx.lineWidth = 2 / state.scale;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  if (color) { ctx.fillStyle = color; ctx.fill(); }
  ctx.strokeStyle = selected ? "#ffeb3b" : "#fff";
  ctx.setLineDash(color ? [] : [3 / state.scale, 3 / state.scale]);
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(x, y, r + 2 / state.scale, 0, 2 * Math.PI);
  ctx.strokeStyle = "#000";
  ctx.stroke();
  ctx.setLineDash([]);
}

function redrawLayer() {
  const g = layer.getContext("2d");
  g.clearRect(0, 0, layer.width, layer.height);
  if (state.baseStrokes) g.drawImage(state.baseStrokes, 0, 0);
  g.lineCap = "round"; g.lineJoin = "round";
  for (const s of state.strokes) {
    g.strokeStyle = s.color; g.lineWidth = s.size;
    g.beginPath();
    s.path.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
    if (s.path.length === 1) g.lineTo(s.path[0][0] + 0.01, s.path[0][1]);
    g.stroke();
  }
}

// ---- hints and history -------------------------------------------------------------------------

function snapshot() {
  state.history.push(JSON.stringify({ points: state.points, strokes: state.strokes }));
  state.future = [];
}

function restore(from, to) {
  if (!from.length) return;
  to.push(JSON.stringify({ points: state.points, strokes: state.strokes }));
  const s = JSON.parse(from.pop());
  state.points = s.points; state.strokes = s.strokes;
  state.selected = -1;
  changed();
}

function changed() {
  redrawLayer();
  renderHints();
  setDirty(true);
  draw();
  requestPreview();
}

function setDirty(dirty) {
  state.dirty = dirty;
  $("save").classList.toggle("dirty", dirty);
  $("undo").disabled = !state.history.length;
  $("redo").disabled = !state.future.length;
  $("delete").disabled = state.selected < 0;
}

function renderHints() {
  const list = $("hints");
  list.replaceChildren();
  state.points.forEach((p, i) => {
    const li = document.createElement("li");
    const chip = document.createElement("i");
    chip.style.background = p.color;
    li.append(chip, `${p.color} at ${Math.round(p.x)}, ${Math.round(p.y)}`);
    li.className = i === state.selected ? "selected" : "";
    li.onclick = () => { state.selected = i; renderHints(); setDirty(state.dirty); draw(); };
    list.append(li);
  });
  if (state.strokes.length || state.baseStrokes) {
    const li = document.createElement("li");
    li.textContent = `${state.strokes.length + (state.baseStrokes ? 1 : 0)} stroke layer(s)`;
    list.append(li);
  }
}

function addPoint(color) {
  if (!state.pending) return;
  snapshot();
  state.points.push({ x: state.pending.x, y: state.pending.y, color });
  state.selected = state.points.length - 1;
  state.pending = null;
  $("palette").replaceChildren();
  changed();
}

function recolour(color) {
  if (state.pending) return addPoint(color);
  if (state.selected < 0) return;
  snapshot();
  state.points[state.selected].color = color;
  changed();
}

async function suggest(x, y) {
  state.pending = { x, y };
  state.selected = -1;
  draw();
  const palette = $("palette");
  palette.replaceChildren();
  try {
    const { colours } = await (await call(`/api/photo/${state.index}/suggest`, { x, y })).json();
    colours.forEach((c) => {
      const b = document.createElement("button");
      b.className = "swatch";
      b.style.background = c.color;
      b.title = c.p === null ? `${c.color}: the model's colour here` : `${c.color}: ${Math.round(c.p * 100)}%`;
      const label = document.createElement("span");
      label.textContent = c.p === null ? "now" : `${Math.round(c.p * 100)}%`;
      b.append(label);
      b.onclick = () => addPoint(c.color);
      palette.append(b);
    });
  } catch (e) {
    say(`No suggestions: ${e.message}`, true);
  }
}

// ---- pointer -----------------------------------------------------------------------------------

function toPhoto(event) {
  const rect = view.getBoundingClientRect();
  return [(event.clientX - rect.left - state.tx) / state.scale, (event.clientY - rect.top - state.ty) / state.scale];
}

function inside(x, y) {
  return state.info && x >= 0 && y >= 0 && x < state.info.width && y < state.info.height;
}

function hit(x, y) {
  const r = 10 / state.scale;
  for (let i = state.points.length - 1; i >= 0; i--) {
    if (Math.hypot(state.points[i].x - x, state.points[i].y - y) <= r) return i;
  }
  return -1;
}

let drag = null;

view.addEventListener("pointerdown", (event) => {
  view.setPointerCapture(event.pointerId);
  const [x, y] = toPhoto(event);
  const panning = state.tool === "pan" || event.button === 1;
  if (panning) {
    drag = { kind: "pan", x: event.clientX, y: event.clientY, tx: state.tx, ty: state.ty };
  } else if (state.tool === "brush" && inside(x, y)) {
    snapshot();
    const stroke = { color: $("picker").value, size: Number($("brush").value), path: [[x, y]] };
    state.strokes.push(stroke);
    drag = { kind: "brush", stroke };
    redrawLayer(); draw();
  } else if (state.tool === "point") {
    const i = hit(x, y);
    if (i >= 0) {
      state.selected = i; state.pending = null;
      drag = { kind: "move", index: i, moved: false, before: JSON.stringify({ points: state.points, strokes: state.strokes }) };
      renderHints(); setDirty(state.dirty); draw();
    } else if (inside(x, y)) {
      suggest(Math.round(x), Math.round(y));
    }
  }
});

view.addEventListener("pointermove", (event) => {
  if (!drag) return;
  const [x, y] = toPhoto(event);
  if (drag.kind === "pan") {
    state.tx = drag.tx + event.clientX - drag.x;
    state.ty = drag.ty + event.clientY - drag.y;
  } else if (drag.kind === "brush" && inside(x, y)) {
    drag.stroke.path.push([x, y]);
    redrawLayer();
  } else if (drag.kind === "move" && inside(x, y)) {
    state.points[drag.index].x = Math.round(x);
    state.points[drag.index].y = Math.round(y);
    drag.moved = true;
  }
  draw();
});

view.addEventListener("pointerup", () => {
  if (drag && drag.kind === "brush") changed();
  if (drag && drag.kind === "move" && drag.moved) {
    state.history.push(drag.before);
    state.future = [];
    changed();
  }
  drag = null;
});

view.addEventListener("wheel", (event) => {
  event.preventDefault();
  const rect = view.getBoundingClientRect();
  const mx = event.clientX - rect.left, my = event.clientY - rect.top;
  const factor = Math.exp(-event.deltaY * 0.0015);
  state.tx = mx - (mx - state.tx) * factor;
  state.ty = my - (my - state.ty) * factor;
  state.scale *= factor;
  draw();
}, { passive: false });

// ---- controls ----------------------------------------------------------------------------------

document.querySelectorAll("input[name=tool]").forEach((radio) => {
  radio.onchange = () => {
    state.tool = radio.value;
    document.body.classList.toggle("pan", state.tool === "pan");
  };
});
$("picker").onchange = () => recolour($("picker").value);
$("undo").onclick = () => restore(state.history, state.future);
$("redo").onclick = () => restore(state.future, state.history);
$("delete").onclick = deleteSelected;
$("fit").onclick = fit;
$("prev").onclick = () => openPhoto(state.index - 1);
$("next").onclick = () => openPhoto(state.index + 1);
$("save").onclick = save;
const showOriginal = (on) => { state.original = on; draw(); };
$("original").onpointerdown = () => showOriginal(true);
$("original").onpointerup = () => showOriginal(false);
$("original").onpointerleave = () => showOriginal(false);

function deleteSelected() {
  if (state.selected < 0) return;
  snapshot();
  state.points.splice(state.selected, 1);
  state.selected = -1;
  changed();
}

async function save() {
  say("Saving…");
  try {
    const body = { ...hintsBody(), output: $("output").checked };
    const result = await (await call(`/api/photo/${state.index}/save`, body)).json();
    const written = [...result.hint_files, ...(result.output ? [result.output] : [])];
    setDirty(false);
    document.body.dataset.saved = String(Number(document.body.dataset.saved || 0) + 1);
    say(written.length ? `Saved: ${written.join(", ")}` : "Nothing to save: no hints.");
  } catch (e) {
    say(`Not saved: ${e.message}`, true);
  }
}

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.type !== "radio") return;
  const key = event.key.toLowerCase();
  const mod = event.ctrlKey || event.metaKey;
  if (mod && key === "z") { event.preventDefault(); restore(state.history, state.future); }
  else if (mod && key === "y") { event.preventDefault(); restore(state.future, state.history); }
  else if (mod && key === "s") { event.preventDefault(); save(); }
  else if (key === "delete" || key === "backspace") deleteSelected();
  else if (key === "o") showOriginal(true);
  else if (key === "f") fit();
  else if (key === "pageup" && state.index > 0) openPhoto(state.index - 1);
  else if (key === "pagedown" && state.index < state.photos.length - 1) openPhoto(state.index + 1);
});
document.addEventListener("keyup", (event) => { if (event.key.toLowerCase() === "o") showOriginal(false); });
window.addEventListener("resize", fit);
window.addEventListener("beforeunload", (event) => {
  if (state.dirty) { event.preventDefault(); event.returnValue = ""; }
});

(async () => {
  try {
    state.photos = (await (await call("/api/photos")).json()).photos;
    await openPhoto(0);
  } catch (e) {
    say(`Cannot load: ${e.message}`, true);
  }
})();
