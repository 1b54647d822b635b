// The live decode panel: canvases that follow the mouse over the maps, sliders that decode while
// dragged and arrow keys that nudge the pinned point, all decoded here (decoder.js) at most once
// per animation frame. Python stays the source of truth: the panel only reports a pinned point
// (on slider release and after arrow keys) through `send("point", ...)`; click.js wires it in.

const KEY_STEP = 1 / 40; // an arrow key moves the point by this share of the visible axis
const KEY_SETTLE_MS = 300; // report a point moved by keys once they have rested this long
const STATS_LIMIT = 5000; // timings kept for benchmarks and tests (window.latentExplorerStats)

export const stats = { decodeMs: [], moveToPaintMs: [], frames: [], reruns: 0 };

function record(list, value) {
  list.push(value);
  if (list.length > STATS_LIMIT) list.shift();
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

export function createPanel(parent, send) {
  // The panel's DOM, built once per component instance: later data only updates it, so a
  // rerun never interrupts a drag.
  const root = element("div", "lx-live", parent);
  const panel = {
    root, send, grid: element("div", "lx-images", root), readout: element("div", "lx-readout", root),
    sliderBox: element("div", "lx-sliders", root), cells: new Map(), sliders: [], live: null,
    models: null, z: null, hover: null, pending: null, frame: 0, keyTimer: 0, lastChart: null,
  };
  return panel;
}

function cell(panel, name) {
  // One figure per image: a canvas for decoders, an <img> for the pinned data point's original.
  if (!panel.cells.has(name)) {
    const figure = element("figure", "lx-cell", panel.grid);
    const picture = element(name === "original" ? "img" : "canvas", "lx-image", figure);
    panel.cells.set(name, { figure, picture, caption: element("figcaption", "", figure) });
  }
  return panel.cells.get(name);
}

export function updatePanel(panel, live, models) {
  // New data from Python (a rerun) or new weights: show the pinned point, rebuild the sliders
  // only when the coordinates change.
  panel.live = live;
  panel.models = models;
  const wanted = new Set([...live.kinds, ...(live.original ? ["original"] : [])]);
  for (const [name, c] of panel.cells) c.figure.hidden = !wanted.has(name);
  for (const name of wanted) cell(panel, name);
  panel.grid.replaceChildren(...[...wanted].map((name) => panel.cells.get(name).figure));
  if (live.original) {
    const original = cell(panel, "original");
    original.picture.src = live.original;
    original.caption.textContent = live.captions.data.original;
  }
  buildSliders(panel, live.sliders);
  pin(panel, live.pinned);
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
      const z = [...panel.z];
      z[i] = Number(input.value);
      show(panel, { z, captions: "point", at: performance.now() });
    });
    input.addEventListener("change", () => pinLocally(panel, panel.z));
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
  // The pinned point: each model's own code (a data point) or one z for all of them.
  panel.pinned = pinned;
  show(panel, { perKind: pinned.codes, z: pinned.z, captions: pinned.index === null ? "point" : "data" });
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
  if (!request || !panel.models) return;
  const { live, models } = panel;
  for (const kind of live.kinds) {
    const model = models[kind];
    const z = request.perKind?.[kind] ?? (kind in live.ownLatent ? null : request.z);
    const c = cell(panel, kind);
    // A model whose map was not hovered (PCA has a latent space of its own) keeps its image.
    c.figure.classList.toggle("lx-stale", z === null);
    if (z === null) continue;
    const started = performance.now();
    const pixels = decodeOrFail(panel, model, z);
    if (!pixels) return;
    record(stats.decodeMs, performance.now() - started);
    paint(c.picture, pixels, model.imageShape);
    c.caption.textContent = live.captions[request.captions][kind];
  }
  // The pinned data point's own image belongs to the pinned point, not to a hovered one.
  panel.cells.get("original")?.figure.classList.toggle("lx-stale", request.captions !== "data");
  if (request.at !== undefined) record(stats.moveToPaintMs, performance.now() - request.at);
  record(stats.frames, performance.now());
  syncSliders(panel);
  panel.readout.textContent = `z = (${panel.z.slice(0, 8).map((v) => v.toFixed(2)).join(", ")}${panel.z.length > 8 ? ", ..." : ""})`;
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

function paint(canvas, pixels, [c, h, w]) {
  if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h });
  const image = new ImageData(toRGBA(pixels, [c, h, w]), w, h);
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function syncSliders(panel) {
  for (const { i, input, value } of panel.sliders) {
    if (document.activeElement !== input) input.value = panel.z[i];
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
    pin(panel, panel.pinned);
    return {};
  }
  const map = live.maps[chartKey];
  if (!map) return null;
  panel.hover = chartKey;
  panel.lastChart = chartKey;
  const z = toLatent(map.projection, xy);
  if (map.kind in live.ownLatent) {
    // PCA of the images: a space of its own; only its image follows.
    show(panel, { perKind: { [map.kind]: z }, z: panel.z, captions: "point", at });
    return { [chartKey]: xy };
  }
  show(panel, { z, captions: "point", at });
  return crossesFor(live, z);
}

export function crossesFor(live, z) {
  // Where latent point z sits on every map that shares the models' latent space.
  const crosses = {};
  for (const [chartKey, map] of Object.entries(live.maps)) {
    if (!(map.kind in live.ownLatent)) crosses[chartKey] = toPlane(map.projection, z);
  }
  return crosses;
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
