// The live decode panel: canvases that follow the mouse over the maps, sliders that decode while
// dragged, arrow keys that nudge the pinned point, a manifold grid that follows zoom and pan, or
// one slider scrubbing along a path (interpolation, concept edit), all decoded here (decoder.js)
// at most once per animation frame. Python stays the source of truth: the panel only reports a
// pinned point (slider release, arrow keys at rest) through `send("point", ...)` and a scrub's
// value on release through `send("value", ...)`; click.js wires it in. The rules
// that mirror Python (strip values, scrub codes, crosses) are in rules.js.
import { decode, shownSize, toLatent, toPlane, toRGBA } from "./decoder.js";
import { element } from "./dom.js";
import { mirrorLoupes } from "./phone.js";
import { crossesFor, scrubCodes, stripValues } from "./rules.js";

const KEY_STEP = 1 / 40; // an arrow key moves the point by this share of the visible axis
const KEY_SETTLE_MS = 300; // report a point moved by keys once they have rested this long
const STATS_LIMIT = 5000; // timings kept for benchmarks and tests (window.latentExplorerStats)
const PICTURES = { original: "original", pcaPicture: "pca" }; // live field -> its caption
const PNG_SIDE = 256; // a downloaded image is upscaled (nearest neighbour) to about this size

export const stats = { decodeMs: [], moveToPaintMs: [], frames: [], reruns: 0 };

function record(list, value) {
  list.push(value);
  if (list.length > STATS_LIMIT) list.shift();
}

export function createPanel(parent, send, viewOf) {
  // The panel's DOM, built once per component instance: later data only updates it, so a
  // rerun never interrupts a drag. viewOf(chartKey) gives a map's visible [[x0, x1], [y0, y1]].
  const root = element("div", "lx-live", parent);
  const panel = {
    root,
    send,
    viewOf,
    grid: element("div", "lx-images", root),
    readout: element("div", "lx-readout", root),
    sliderBox: element("div", "lx-sliders", root),
    cells: new Map(),
    sliders: [],
    live: null,
    models: null,
    z: null,
    hover: null,
    pending: null,
    frame: 0,
    keyTimer: 0,
    lastChart: null,
    gridOn: false,
    gridJobs: [],
  };
  return panel;
}

function cell(panel, name) {
  // One figure per image: a canvas for decoders, an <img> for a pinned data point's pictures
  // made by Python (its original, and PCA's reconstruction when PCA is not decoded here).
  if (!panel.cells.has(name)) {
    const figure = element("figure", "lx-cell", panel.grid);
    const picture = element(name in PICTURES ? "img" : "canvas", "lx-image", figure);
    const caption = element("figcaption", "", figure);
    if (!(name in PICTURES)) pngLink(figure, picture, name.replace(":", "-"));
    figure.classList.toggle("lx-strip", name.startsWith("strip:"));
    panel.cells.set(name, { figure, picture, caption });
  }
  return panel.cells.get(name);
}

function pngLink(figure, canvas, name) {
  // "PNG": the image as shown, upscaled so that it stays sharp, made when clicked.
  const link = element("a", "lx-png", figure);
  Object.assign(link, { textContent: "PNG", href: "#", download: `${name}.png` });
  link.addEventListener("click", () => {
    const scale = Math.max(1, Math.floor(PNG_SIDE / Math.max(canvas.width, canvas.height)));
    const big = document.createElement("canvas");
    Object.assign(big, { width: canvas.width * scale, height: canvas.height * scale });
    const context = big.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(canvas, 0, 0, big.width, big.height);
    link.href = big.toDataURL("image/png");
  });
}

export function updatePanel(panel, live, models) {
  // New data from Python (a rerun) or new weights: show the pinned point, rebuild the sliders
  // only when the coordinates change.
  panel.live = live;
  panel.models = models;
  const pictures = Object.keys(PICTURES).filter((name) => live[name]);
  // A strip ends at the edit itself: with strips, no single images.
  const strips = live.scrub?.strip ? live.kinds.map((kind) => `strip:${kind}`) : [];
  const wanted = new Set([...(strips.length ? strips : live.kinds), ...pictures]);
  for (const [name, c] of panel.cells) c.figure.hidden = !wanted.has(name);
  for (const name of wanted) cell(panel, name);
  panel.grid.replaceChildren(...[...wanted].map((name) => panel.cells.get(name).figure));
  for (const name of pictures) {
    const target = cell(panel, name);
    target.picture.src = live[name];
    target.caption.textContent = live.captions.data[PICTURES[name]];
  }
  if (live.scrub) buildScrub(panel, live.scrub);
  else buildSliders(panel, live.sliders);
  if (Object.keys(live.maps).length) buildGridToggle(panel);
  pin(panel, live.pinned);
}

function buildScrub(panel, scrub) {
  // One slider along a path (interpolation) or a line (concept edit), decoding while dragged;
  // its value goes to Python on release.
  const signature = JSON.stringify({ ...scrub, value: null });
  if (panel.sliderSignature === signature) {
    if (document.activeElement !== panel.sliders[0].input) panel.sliders[0].input.value = scrub.value;
    return;
  }
  panel.sliderSignature = signature;
  panel.sliderBox.replaceChildren();
  panel.root.classList.add("lx-scrub");
  panel.root.prepend(panel.sliderBox); // the slider above what it moves
  const label = element("label", "lx-slider", panel.sliderBox);
  element("span", "lx-slider-name", label).textContent = scrub.label;
  const input = element("input", "", label);
  const [low, high] = scrub.range;
  Object.assign(input, { type: "range", min: low, max: high, step: scrub.step, value: scrub.value });
  const value = element("span", "lx-slider-value", label);
  const update = (at) => {
    const t = Number(input.value);
    value.textContent = formatValue(scrub, t);
    show(panel, { perKind: scrubCodes(scrub, t), captions: "scrub", value: t, at });
  };
  input.addEventListener("input", () => update(performance.now()));
  input.addEventListener("change", () => panel.send("value", { value: Number(input.value) }));
  panel.sliders = [{ input, value, scrub }];
  value.textContent = formatValue(scrub, scrub.value);
}

function drawStrips(panel, t) {
  // The edit's strip per model, -|t| .. +|t|, tiled with 1 px gaps: it moves with the slider.
  const { scrub, kinds } = panel.live;
  const values = stripValues(t, scrub.strip);
  for (const kind of kinds) {
    const model = panel.models[kind];
    const [w, h] = shownSize(model.imageShape);
    const target = cell(panel, `strip:${kind}`);
    const canvas = target.picture;
    const width = values.length * (w + 1) - 1;
    if (canvas.width !== width || canvas.height !== h) Object.assign(canvas, { width, height: h });
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, h);
    values.forEach((value, i) => {
      const pixels = decodeOrFail(panel, model, scrubCodes(scrub, value)[kind]);
      if (pixels) context.putImageData(new ImageData(toRGBA(pixels, model.imageShape), w, h), i * (w + 1), 0);
    });
    const [low, high] = [values[0], values[values.length - 1]].map((v) => formatValue(scrub, v));
    target.caption.textContent = `${kind.toUpperCase()}: ${scrub.label.split(",")[0]} from ${low} to ${high}`;
  }
}

function formatValue(scrub, t) {
  return (scrub.signed && t >= 0 ? "+" : "") + t.toFixed(scrub.decimals);
}

function buildGridToggle(panel) {
  // The manifold grid: each map's visible area decoded on an n x n grid, redrawn after every
  // zoom or pan, with no server round trip.
  if (panel.gridToggle) return;
  const label = element("label", "lx-grid-toggle", panel.root); // below the sliders
  panel.gridToggle = element("input", "", label);
  panel.gridToggle.type = "checkbox";
  label.append(" Manifold grid of the visible area (follows zoom and pan)");
  panel.gridToggle.addEventListener("change", () => {
    panel.gridOn = panel.gridToggle.checked;
    panel.root.classList.toggle("lx-grid-on", panel.gridOn);
    if (panel.gridOn) for (const chartKey of Object.keys(panel.live.maps)) gridPanel(panel, chartKey);
    else pin(panel, panel.pinned);
  });
}

function buildSliders(panel, spec) {
  const signature = JSON.stringify([spec.coords, spec.ranges]);
  if (panel.sliderSignature === signature) return;
  panel.sliderSignature = signature;
  panel.sliderBox.replaceChildren();
  panel.sliders = spec.coords.map((i, n) => {
    const [low, high] = spec.ranges[n];
    const label = element("label", "lx-slider", panel.sliderBox);
    element("span", "lx-slider-name", label).textContent = `z${i + 1}`;
    const input = element("input", "", label);
    Object.assign(input, { type: "range", min: low, max: high, step: (high - low) / 400 });
    input.dataset.coordinate = i;
    const value = element("span", "lx-slider-value", label);
    input.addEventListener("input", () => {
      panel.sliding = input; // not synced while it moves: a rerun must not pull its thumb back
      const z = [...panel.z];
      z[i] = Number(input.value);
      show(panel, { z, captions: "point", at: performance.now() });
    });
    input.addEventListener("change", () => {
      panel.sliding = null;
      pinLocally(panel, panel.z);
    });
    input.addEventListener("blur", () => (panel.sliding = null)); // moved back: no change event
    return { i, input, value };
  });
}

function pinLocally(panel, z) {
  // Pin a point the browser chose (slider release, arrow keys, a click on empty space) and
  // tell Python, which answers with the same point (checked) on its rerun.
  pin(panel, { index: null, z, codes: null });
  panel.send("point", { z });
}

export function pinAt(panel, chartKey, xy) {
  const map = panel.live?.maps[chartKey];
  if (map && !(map.kind in panel.live.ownLatent)) {
    panel.pinned = { index: null, z: toLatent(map.projection, xy), codes: null };
  }
}

function pin(panel, pinned) {
  // The pinned point: each model's own code (a data point) or one z for all of them; on a
  // scrub panel, the point at the slider's value.
  panel.pinned = pinned;
  const { scrub } = panel.live;
  if (scrub) show(panel, { perKind: scrubCodes(scrub, scrub.value), captions: "scrub", value: scrub.value });
  else show(panel, { perKind: pinned.codes, z: pinned.z, captions: pinned.index === null ? "point" : "data" });
}

function show(panel, request) {
  // Decode at the next animation frame; a newer request replaces a waiting one.
  panel.pending = request;
  if (request.z) panel.z = request.z;
  if (!panel.frame) panel.frame = requestAnimationFrame(() => draw(panel));
}

function draw(panel) {
  panel.frame = 0;
  const request = panel.pending;
  panel.pending = null;
  if (!request || !panel.models || panel.gridOn) return;
  const { live, models } = panel;
  for (const kind of live.scrub?.strip ? [] : live.kinds) {
    const model = models[kind];
    const own = kind in live.ownLatent || request.only;
    const z = request.perKind?.[kind] ?? (own ? null : request.z);
    const c = cell(panel, kind);
    // A model that does not share the hovered map's space (PCA's is its own) keeps its image.
    c.figure.classList.toggle("lx-stale", z === null);
    if (z === null) continue;
    const started = performance.now();
    const pixels = decodeOrFail(panel, model, z);
    if (!pixels) return;
    record(stats.decodeMs, performance.now() - started);
    paint(c.picture, pixels, model.imageShape);
    const caption = live.captions[request.captions][kind];
    c.caption.textContent = caption.replace("{value}", live.scrub ? formatValue(live.scrub, request.value) : "");
  }
  if (live.scrub?.strip && request.value !== undefined) drawStrips(panel, request.value);
  mirrorLoupes(panel); // phone.js: the images over the map on a narrow screen
  // The pinned data point's own image belongs to the pinned point, not to a hovered one.
  for (const name in PICTURES) panel.cells.get(name)?.figure.classList.toggle("lx-stale", request.captions !== "data");
  if (request.at !== undefined) record(stats.moveToPaintMs, performance.now() - request.at);
  record(stats.frames, performance.now());
  syncSliders(panel);
  if (panel.z) {
    const shown = panel.z
      .slice(0, 8)
      .map((v) => v.toFixed(2))
      .join(", ");
    panel.readout.textContent = `z = (${shown}${panel.z.length > 8 ? ", ..." : ""})`;
  }
}

function decodeOrFail(panel, model, z) {
  try {
    return decode(model, z);
  } catch (error) {
    panel.send("fallback", `the browser could not decode (${error.message})`);
    panel.models = null;
    return null;
  }
}

function paint(canvas, pixels, shape) {
  const [w, h] = shownSize(shape);
  if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h });
  const image = new ImageData(toRGBA(pixels, shape), w, h);
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function syncSliders(panel) {
  if (panel.live.scrub) return;
  for (const { i, input, value } of panel.sliders) {
    // Only the slider being moved keeps its own value; a focused one follows later pins too.
    if (panel.sliding !== input) input.value = panel.z[i];
    value.textContent = Number(panel.z[i]).toFixed(2);
  }
}

export function hoverPanel(panel, chartKey, xy, at) {
  // The mouse over a map at xy (map coordinates), or off it (xy null): decode the point under it
  // in every model that lives in that map's latent space. Returns each chart's cross position.
  const { live } = panel;
  if (!live || !panel.models) return null;
  if (!xy) {
    panel.hover = null;
    if (!panel.gridOn) pin(panel, panel.pinned);
    return {};
  }
  const map = live.maps[chartKey];
  if (!map) return null;
  panel.hover = chartKey;
  panel.lastChart = chartKey;
  const z = toLatent(map.projection, xy);
  if (panel.gridOn) return map.kind in live.ownLatent ? { [chartKey]: xy } : crossesFor(live, z);
  if (map.kind in live.ownLatent) {
    // PCA of the images: a space of its own; only its image follows.
    show(panel, { perKind: { [map.kind]: z }, only: true, z: panel.z, captions: "point", at });
    return { [chartKey]: xy };
  }
  show(panel, { z, captions: "point", at });
  return crossesFor(live, z);
}

export function nudgePanel(panel, key, viewOf) {
  // Arrow keys move the pinned point across the last map hovered (off-plane coordinates kept).
  const { live } = panel;
  const chartKey = panel.lastChart || Object.keys(live?.maps || {}).find((k) => !(live.maps[k].kind in live.ownLatent));
  if (!live || !panel.models || !chartKey) return null;
  const { projection } = live.maps[chartKey];
  const [xRange, yRange] = viewOf(chartKey);
  const [dx, dy] = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[key];
  const from = panel.pinned.z;
  const [x, y] = toPlane(projection, from);
  const moved = [x + dx * KEY_STEP * (xRange[1] - xRange[0]), y + dy * KEY_STEP * (yRange[1] - yRange[0])];
  const z = toLatent(projection, moved, from);
  panel.pinned = { index: null, z, codes: null };
  show(panel, { z, captions: "point", at: performance.now() });
  clearTimeout(panel.keyTimer);
  panel.keyTimer = setTimeout(() => pinLocally(panel, z), KEY_SETTLE_MS);
  return crossesFor(live, z);
}

const GRID_N = 10; // cells per side, as the Generate page's default
const GRID_BUDGET_MS = 10; // decoding per animation frame, so the page stays responsive

export function gridPanel(panel, chartKey) {
  // (Re)draw the grid of one map's visible area, progressively: a slow (conv) decoder fills it
  // over several frames instead of freezing the page.
  const map = panel.live?.maps[chartKey];
  if (!panel.gridOn || !map || !panel.models || !panel.live.kinds.includes(map.kind)) return;
  const model = panel.models[map.kind];
  const [w, h] = shownSize(model.imageShape);
  const target = cell(panel, map.kind);
  const canvas = target.picture;
  Object.assign(canvas, { width: GRID_N * (w + 1) - 1, height: GRID_N * (h + 1) - 1 });
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  const [[x0, x1], [y0, y1]] = panel.viewOf(chartKey);
  target.caption.textContent = `${map.kind.toUpperCase()} over the visible area`;
  target.figure.classList.remove("lx-stale");
  const cells = [];
  for (let row = 0; row < GRID_N; row++) {
    for (let col = 0; col < GRID_N; col++) {
      const xy = [x0 + ((col + 0.5) / GRID_N) * (x1 - x0), y1 - ((row + 0.5) / GRID_N) * (y1 - y0)];
      cells.push({ row, col, z: toLatent(map.projection, xy) });
    }
  }
  panel.gridJobs = panel.gridJobs.filter((job) => job.kind !== map.kind);
  panel.gridJobs.push({ kind: map.kind, model, context, cells, shape: model.imageShape });
  if (!panel.gridRunning) {
    panel.gridRunning = true;
    requestAnimationFrame(() => gridStep(panel));
  }
}

function gridStep(panel) {
  const started = performance.now();
  while (panel.gridJobs.length && performance.now() - started < GRID_BUDGET_MS) {
    const job = panel.gridJobs[0];
    const { row, col, z } = job.cells.shift();
    const [w, h] = shownSize(job.shape);
    const pixels = decodeOrFail(panel, job.model, z);
    if (!pixels) break;
    job.context.putImageData(new ImageData(toRGBA(pixels, job.shape), w, h), col * (w + 1), row * (h + 1));
    if (!job.cells.length) panel.gridJobs.shift();
  }
  if (panel.gridJobs.length && panel.gridOn) return requestAnimationFrame(() => gridStep(panel));
  panel.gridJobs = [];
  panel.gridRunning = false;
}
