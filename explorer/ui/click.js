// Click-anywhere listener for Plotly charts drawn with st.plotly_chart(fig, key=...), and host of
// the live decode panel (live.js, phone.js) and its weights (decoder.js): see click.py. The four
// files are one module: click.py joins them, decoder.js first.
//
// Module state lives as long as the page: Streamlit imports this module once and calls the default
// export again whenever `data` changes, without running the previous call's cleanup (only the
// unmount cleanup runs), so per-instance state sits in `instances`, keyed by the frontend key, and
// parsed weights in `bundles`, keyed by the bundle's id (which the panels' data names).

const MARKER = "latent-click-marker"; // name of our shapes, so the figure's own shapes stay
const ARM_PX = 7; // half-length of the cross's arms, in screen pixels at any zoom
const HOVER_CROSS = "lx-hover-cross";
const TOUCH_CLICK_MS = 800; // Plotly's click this soon after a finger pinned is that same touch
const instances = new Map(); // frontend key -> {charts, marker, color, send, sentSeq, panel}
const bundles = new Map(); // bundle id -> {models}, or {error} under "failed:<frontend key>"
const weightsSeen = new Map(); // frontend key of a weights instance -> {print, id}
const handlers = new WeakMap(); // graph div -> our plotly_click handler on it
let seq = 0;
let observer = null;
let scheduled = false;
let activePanel = null; // the live panel that arrow keys move
let pointerInside = false; // over a map or a panel: arrow keys are ours then
let touchPinnedAt = -Infinity; // performance.now() when a finger last pinned a point

function graphFor(chartKey) {
  // Streamlit puts the class st-key-<key> on a keyed element's container, with the key trimmed
  // and every character but [a-zA-Z0-9_-] replaced by "-".
  const name = chartKey.trim().replaceAll(/[^a-zA-Z0-9_-]/g, "-");
  return document.querySelector(`.st-key-${CSS.escape(name)} .js-plotly-plot`);
}

function crossShapes([x, y], color) {
  const arm = { type: "line", name: MARKER, xref: "x", yref: "y", xanchor: x, yanchor: y,
    xsizemode: "pixel", ysizemode: "pixel", line: { color, width: 2.5 }, layer: "above" };
  return [
    { ...arm, x0: -ARM_PX, x1: ARM_PX, y0: 0, y1: 0 },
    { ...arm, x0: 0, x1: 0, y0: -ARM_PX, y1: ARM_PX },
  ];
}

function drawMarker(gd, marker, color) {
  // Relayout only on change: a shapes-only relayout keeps the user's zoom and pan.
  const shapes = gd.layout.shapes || [];
  const ours = shapes.filter((s) => s.name === MARKER);
  const same = marker
    ? ours.length === 2 && ours.every((s) => s.xanchor === marker[0] && s.yanchor === marker[1])
    : ours.length === 0;
  if (same) return;
  const others = shapes.filter((s) => s.name !== MARKER);
  window.Plotly.relayout(gd, { shapes: marker ? [...others, ...crossShapes(marker, color)] : others });
}

function nearestPoint(gd, px, py) {
  // Index of trace 0's point nearest the pixel (px, py) within hover reach, else null. Plotly's
  // own event.points come from the last hover, throttled to 50 ms: a quick click reports the
  // pointer's previous position, so hits and coordinates are computed here from the click itself.
  const trace = gd._fullData[0];
  const { xaxis, yaxis, hoverdistance } = gd._fullLayout;
  if (!trace || trace.visible !== true || !trace.x || !trace.y) return null;
  const size = trace.marker?.size;
  const reach = hoverdistance < 0 ? Infinity : hoverdistance + (typeof size === "number" ? size / 2 : 3);
  let best = null;
  let bestDistance = reach;
  for (let i = 0; i < trace._length; i++) {
    const distance = Math.hypot(xaxis.d2p(trace.x[i]) - px, yaxis.d2p(trace.y[i]) - py);
    if (distance < bestDistance) [best, bestDistance] = [i, distance];
  }
  return best;
}

function plotPixel(gd, mouse) {
  // The pointer's pixel inside the plot area, [px, py], or null off it.
  const { xaxis, yaxis } = gd._fullLayout;
  if (!mouse || !Number.isFinite(mouse.clientX)) return null;
  const box = gd.getBoundingClientRect();
  const px = mouse.clientX - box.left - xaxis._offset;
  const py = mouse.clientY - box.top - yaxis._offset;
  return px >= 0 && py >= 0 && px <= xaxis._length && py <= yaxis._length ? [px, py] : null;
}

function clickOf(gd, chartKey, event) {
  const { xaxis, yaxis } = gd._fullLayout;
  const pixel = plotPixel(gd, event.event);
  if (!pixel) return null;
  const [px, py] = pixel;
  const i = nearestPoint(gd, px, py);
  if (i !== null) {
    const trace = gd._fullData[0];
    return { chart: chartKey, x: Number(trace.x[i]), y: Number(trace.y[i]), point_index: i };
  }
  return { chart: chartKey, x: xaxis.p2d(px), y: yaxis.p2d(py), point_index: null };
}

function onClick(gd, chartKey, event) {
  const click = clickOf(gd, chartKey, event);
  if (!click || !Number.isFinite(click.x) || !Number.isFinite(click.y)) return;
  click.seq = ++seq;
  for (const inst of instances.values()) {
    if (!inst.charts.includes(chartKey)) continue;
    inst.marker = [click.x, click.y]; // instant feedback, before Python answers
    inst.sentSeq = click.seq;
    if (inst.panel) pinAt(inst.panel, chartKey, [click.x, click.y]); // Python then refines it
    inst.send("click", click);
  }
  sync();
}

function onHover(gd, chartKey, event) {
  // Decode the point under the pointer in every live panel and draw its cross on every map.
  const pixel = plotPixel(gd, event);
  const { xaxis, yaxis } = gd._fullLayout;
  const xy = pixel && [xaxis.p2d(pixel[0]), yaxis.p2d(pixel[1])];
  placeLoupe(gd, pixel);
  for (const inst of instances.values()) {
    if (!inst.panel || !inst.charts.includes(chartKey)) continue;
    activePanel = inst.panel;
    drawHoverCrosses(inst.charts, hoverPanel(inst.panel, chartKey, xy, event.timeStamp));
  }
}

function drawHoverCrosses(charts, crosses) {
  // A cross per map where the hovered point sits: a DOM overlay moved with CSS, far cheaper
  // than a Plotly relayout on every mouse move. crosses null: leave them; {}: hide them.
  if (!crosses) return;
  for (const chartKey of charts) {
    const gd = graphFor(chartKey);
    if (!gd?._fullLayout) continue;
    let cross = gd.querySelector(`:scope > .${HOVER_CROSS}`);
    if (!cross) {
      cross = document.createElement("div");
      cross.className = HOVER_CROSS;
      if (getComputedStyle(gd).position === "static") gd.style.position = "relative";
      gd.appendChild(cross);
    }
    const xy = crosses[chartKey];
    const { xaxis, yaxis } = gd._fullLayout;
    const px = xy && xaxis._offset + xaxis.d2p(xy[0]);
    const py = xy && yaxis._offset + yaxis.d2p(xy[1]);
    const inside = xy && px >= xaxis._offset && px <= xaxis._offset + xaxis._length &&
      py >= yaxis._offset && py <= yaxis._offset + yaxis._length;
    cross.hidden = !inside;
    if (inside) cross.style.transform = `translate(${px}px, ${py}px)`;
  }
}

function visibleRange(chartKey) {
  const gd = graphFor(chartKey);
  const { xaxis, yaxis } = gd._fullLayout;
  return [xaxis.range.map(Number), yaxis.range.map(Number)];
}

function onKey(event) {
  // Arrow keys nudge the pinned point while the pointer is over a map or the panel. A focused
  // slider keeps its keys, except over a map (a click on a map leaves the focus where it was).
  if (!activePanel?.root.isConnected || !pointerInside) return;
  if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
  const { target } = event;
  const slider = target instanceof HTMLInputElement && target.type === "range";
  if (slider ? activePanel.hover === null : target instanceof HTMLInputElement) return;
  if (target instanceof HTMLTextAreaElement) return;
  const crosses = nudgePanel(activePanel, event.key, visibleRange);
  if (!crosses) return;
  event.preventDefault(); // no page scroll
  for (const inst of instances.values()) {
    if (inst.panel === activePanel) drawHoverCrosses(inst.charts, crosses);
  }
}

function onRelayout(gd, chartKey, update) {
  // Report the visible area after a zoom, pan or autoscale; our own marker relayouts (shapes
  // only) are not a change of view.
  if (!Object.keys(update || {}).some((k) => k.startsWith("xaxis") || k.startsWith("yaxis"))) return;
  const { xaxis, yaxis } = gd._fullLayout;
  const view = { chart: chartKey, x: [...xaxis.range].map(Number), y: [...yaxis.range].map(Number) };
  for (const inst of instances.values()) {
    if (!inst.charts.includes(chartKey)) continue;
    inst.send("view", view);
    if (inst.panel) gridPanel(inst.panel, chartKey);
  }
}

function listenToPointer(gd, chartKey) {
  // Hover decoding: plain DOM events, which survive Plotly.newPlot (it drops only its own).
  gd.dataset.latentHover = chartKey;
  const hover = (event) => onHover(gd, chartKey, event);
  gd.addEventListener("pointermove", hover);
  gd.addEventListener("pointerdown", hover); // a touch starts where the finger lands
  gd.addEventListener("pointerup", (event) => {
    // A finger pins where it lifts, after a tap or a drag, as a click would (else the images
    // would fall back to the pinned point). Plotly's click after a touch says where the finger
    // landed, the start of a drag: it is ignored (see sync).
    if (event.pointerType !== "touch" || gd._fullLayout.dragmode !== false) return;
    touchPinnedAt = performance.now();
    onClick(gd, chartKey, { event });
  });
  decodeUnderFinger(gd);
  gd.addEventListener("pointerenter", () => (pointerInside = true));
  gd.addEventListener("pointerleave", (event) => {
    pointerInside = false;
    onHover(gd, chartKey, { clientX: NaN, timeStamp: event.timeStamp });
  });
}

function decodeUnderFinger(gd) {
  // Touch: a finger dragged over the map decodes under it, instead of drawing a zoom box or
  // scrolling the page (the toolbar's zoom and pan buttons still work). Again after Streamlit
  // redraws the chart (Plotly.react, at a new width), which brings back the figure's dragmode.
  if (!matchMedia("(pointer: coarse)").matches || gd._fullLayout.dragmode === false) return;
  gd.style.touchAction = "none";
  window.Plotly.relayout(gd, { dragmode: false });
}

function isListening(gd) {
  // A new div has no handler; Plotly.newPlot (also run by Plotly.react when the config changes)
  // removes all listeners from the same div, seen only on its event emitter `gd._ev`.
  const handler = handlers.get(gd);
  const listeners = gd._ev?.listeners?.("plotly_click");
  return !!handler && (!listeners || listeners.includes(handler));
}

function sync() {
  // Attach to every listed graph div (new ones appear on reruns) and draw its marker: one per
  // chart, the last instance's, so two instances never relayout against each other.
  if (!window.Plotly) return; // Streamlit sets it when it loads its first Plotly chart
  const wanted = new Map();
  for (const inst of instances.values()) {
    for (const chartKey of inst.charts) wanted.set(chartKey, inst);
  }
  for (const [chartKey, inst] of wanted) {
    const gd = graphFor(chartKey);
    if (!gd || !gd._fullLayout || !gd.on) continue;
    if (!isListening(gd)) {
      const handler = (event) => {
        if (performance.now() - touchPinnedAt > TOUCH_CLICK_MS) onClick(gd, chartKey, event);
      };
      handlers.set(gd, handler);
      gd.on("plotly_click", handler);
      gd.on("plotly_relayout", (update) => onRelayout(gd, chartKey, update));
      gd.on("plotly_react", () => decodeUnderFinger(gd));
      if (!gd.dataset.latentHover) listenToPointer(gd, chartKey);
      gd.dataset.latentClick = chartKey; // says "listening" to tests and DOM inspectors
    }
    // One marker for every chart (a click's instant feedback) or one per chart key.
    const marker = Array.isArray(inst.marker) ? inst.marker : (inst.marker?.[chartKey] ?? null);
    drawMarker(gd, marker, inst.color);
  }
  for (const inst of instances.values()) {
    if (inst.panel && inst.charts.length) phoneLayout(inst.charts, inst.panel, inst.live, graphFor, sync);
  }
}

function scheduleSync() {
  // Coalesce bursts of DOM mutations (hover labels, redraws) into one check per frame.
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    sync();
  });
}

function modelsFor(live) {
  // The models of every bundle the panel names; null until they have all arrived. A bundle
  // that failed to parse has no id to look for: any failure counts.
  for (const bundle of bundles.values()) if (bundle.error) throw new Error(bundle.error);
  const models = {};
  for (const id of live.bundles) {
    if (!bundles.has(id)) return null;
    Object.assign(models, bundles.get(id).models);
  }
  return models;
}

function refreshPanel(inst) {
  // Show the pinned point once the weights are here; report a failure once, so that Python
  // falls back to decoding on the server.
  const { panel, live } = inst;
  let models = null;
  try {
    models = modelsFor(live);
  } catch (error) {
    if (!inst.failed) inst.send("fallback", `the browser could not load the decoders (${error.message})`);
    inst.failed = true;
    return;
  }
  panel.root.classList.toggle("lx-loading", !models);
  if (models) updatePanel(panel, live, models);
}

function fingerprint(bytes) {
  // Cheap identity of a bundle (a rerun may hand the same bytes over as a new array): its length
  // and an FNV-1a hash of every 61st byte.
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 61) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return `${bytes.length}:${hash >>> 0}`;
}

function mountWeights(key, bytes) {
  // A weights instance: parse its bundle once (by fingerprint: a rerun may hand the same bytes
  // over as a new array), file it under the bundle's id, and show it in every panel waiting.
  const print = fingerprint(bytes);
  if (weightsSeen.get(key)?.print !== print) {
    let id = `failed:${key}`;
    try {
      const bundle = parseBundle(bytes);
      id = bundle.id;
      bundles.set(id, { models: bundle.models });
    } catch (error) {
      bundles.set(id, { error: error.message });
    }
    weightsSeen.set(key, { print, id });
  }
  for (const inst of instances.values()) {
    if (inst.live && !inst.failed) refreshPanel(inst);
  }
  return () => weightsSeen.delete(key);
}

function mountPanel(inst, parentElement, stale) {
  // The visible panel of a live instance, built once; Python's data then updates it.
  const holder = parentElement.querySelector(".latent-click-listener");
  if (holder) holder.className = "latent-live-holder"; // no longer hidden: this one shows
  if (!inst.panel) {
    inst.panel = createPanel(parentElement.querySelector(".latent-live-holder"), inst.send, visibleRange);
    inst.panel.root.addEventListener("pointerenter", () => {
      activePanel = inst.panel;
      pointerInside = true;
    });
    inst.panel.root.addEventListener("pointerleave", () => (pointerInside = false));
  }
  inst.panel.send = inst.send;
  if (!stale) refreshPanel(inst);
}

export default function mountComponent(component) {
  const { data, key, parentElement, setTriggerValue } = component;
  window.latentExplorerStats = stats;
  if (data instanceof Uint8Array) return mountWeights(key, data);
  const color = getComputedStyle(parentElement).getPropertyValue("--st-primary-color").trim();
  const previous = instances.get(key);
  const sentSeq = previous ? previous.sentSeq : 0;
  // Data from a rerun older than our last click (Python's seq lags) would pull the cross back.
  const stale = (data?.seq ?? 0) < sentSeq;
  const inst = {
    charts: data?.charts || [],
    marker: stale ? previous.marker : data?.marker || null,
    color: color || "#ff4b4b",
    send: setTriggerValue,
    sentSeq,
    live: data?.live || null,
    panel: previous?.panel || null,
    failed: previous?.failed || false,
  };
  instances.set(key, inst);
  if (inst.live) mountPanel(inst, parentElement, stale);
  stats.reruns += 1;
  if (!observer) {
    observer = new MutationObserver(scheduleSync);
    observer.observe(document.body, { childList: true, subtree: true });
    document.addEventListener("keydown", onKey);
  }
  sync();
  return () => instances.delete(key);
}
