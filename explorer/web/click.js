// Click-anywhere listener for Plotly charts drawn with st.plotly_chart(fig, key=...), and host of
// the live decode panel (live.js, phone.js) and its weights (bundles.js): see click.py. The
// component's module is this file joined with the modules it imports (explorer/web/modules.py).
//
// Module state lives as long as the page: Streamlit imports this module once and calls the default
// export again whenever `data` changes, without running the previous call's cleanup (only the
// unmount cleanup runs), so per-instance state sits in `instances`, keyed by the frontend key,
// parsed weights in bundles.js, keyed by the bundle's id (which the panels' data names), and the
// page's listener state in `page`.
import { fileWeights, forgetWeights, modelsFor } from "./bundles.js";
import { createPad, updatePad } from "./draw.js";
import { createPanel, gridPanel, hoverPanel, nudgePanel, pinAt, stats, updatePanel } from "./live.js";
import { phoneLayout, placeLoupe } from "./phone.js";
import {
  axisRanges,
  clickListeners,
  firstTrace,
  isDrawn,
  layoutValue,
  plotArea,
  toData,
  toPixel,
} from "./plotly_adapter.js";
import { drawnPoints } from "./rules.js";

const MARKER = "latent-click-marker"; // name of our shapes, so the figure's own shapes stay
const ARM_PX = 7; // half-length of the cross's arms, in screen pixels at any zoom
const HOVER_CROSS = "lx-hover-cross";
const DRAWN_POINT = "lx-drawn-point"; // where the drawing pad's drawing lands on each map
const TOUCH_CLICK_MS = 800; // Plotly's click this soon after a finger pinned is that same touch
const instances = new Map(); // frontend key -> {charts, marker, color, send, sentSeq, panel}
const pads = new Map(); // frontend key -> a drawing pad (draw.js)
const handlers = new WeakMap(); // graph div -> our plotly_click handler on it
const page = {
  seq: 0, // the last click's number
  observer: null, // the MutationObserver that picks up new charts
  scheduled: false, // a sync waits for the next animation frame
  activePanel: null, // the live panel that arrow keys move
  pointerInside: false, // over a map or a panel: arrow keys are ours then
  touchPinnedAt: -Infinity, // performance.now() when a finger last pinned a point
};

function graphFor(chartKey) {
  // Streamlit puts the class st-key-<key> on a keyed element's container, with the key trimmed
  // and every character but [a-zA-Z0-9_-] replaced by "-".
  const name = chartKey.trim().replaceAll(/[^a-zA-Z0-9_-]/g, "-");
  return document.querySelector(`.st-key-${CSS.escape(name)} .js-plotly-plot`);
}

function crossShapes([x, y], color) {
  const arm = {
    type: "line",
    name: MARKER,
    xref: "x",
    yref: "y",
    xanchor: x,
    yanchor: y,
    xsizemode: "pixel",
    ysizemode: "pixel",
    line: { color, width: 2.5 },
    layer: "above",
  };
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
  const { trace, length } = firstTrace(gd) || {};
  const hoverdistance = layoutValue(gd, "hoverdistance");
  if (trace?.visible !== true || !trace.x || !trace.y) return null;
  const size = trace.marker?.size;
  const reach = hoverdistance < 0 ? Infinity : hoverdistance + (typeof size === "number" ? size / 2 : 3);
  let best = null;
  let bestDistance = reach;
  for (let i = 0; i < length; i++) {
    const [x, y] = toPixel(gd, [trace.x[i], trace.y[i]]);
    const distance = Math.hypot(x - px, y - py);
    if (distance < bestDistance) [best, bestDistance] = [i, distance];
  }
  return best;
}

function plotPixel(gd, mouse) {
  // The pointer's pixel inside the plot area, [px, py], or null off it.
  const area = plotArea(gd);
  if (!mouse || !Number.isFinite(mouse.clientX)) return null;
  const box = gd.getBoundingClientRect();
  const px = mouse.clientX - box.left - area.left;
  const py = mouse.clientY - box.top - area.top;
  return px >= 0 && py >= 0 && px <= area.width && py <= area.height ? [px, py] : null;
}

function clickOf(gd, chartKey, event) {
  const pixel = plotPixel(gd, event.event);
  if (!pixel) return null;
  const [px, py] = pixel;
  const i = nearestPoint(gd, px, py);
  if (i !== null) {
    const { trace } = firstTrace(gd);
    return { chart: chartKey, x: Number(trace.x[i]), y: Number(trace.y[i]), point_index: i };
  }
  const [x, y] = toData(gd, [px, py]);
  return { chart: chartKey, x, y, point_index: null };
}

function onClick(gd, chartKey, event) {
  const click = clickOf(gd, chartKey, event);
  if (!click || !Number.isFinite(click.x) || !Number.isFinite(click.y)) return;
  click.seq = ++page.seq;
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
  const xy = pixel && toData(gd, pixel);
  placeLoupe(gd, pixel);
  for (const inst of instances.values()) {
    if (!inst.panel || !inst.charts.includes(chartKey)) continue;
    page.activePanel = inst.panel;
    drawHoverCrosses(inst.charts, hoverPanel(inst.panel, chartKey, xy, event.timeStamp));
  }
}

function drawHoverCrosses(charts, crosses, className = HOVER_CROSS) {
  // A cross per map where the hovered point sits: a DOM overlay moved with CSS, far cheaper
  // than a Plotly relayout on every mouse move. crosses null: leave them; {}: hide them.
  // className DRAWN_POINT: the drawing pad's point instead.
  if (!crosses) return;
  for (const chartKey of charts) {
    const gd = graphFor(chartKey);
    if (!isDrawn(gd)) continue;
    let cross = gd.querySelector(`:scope > .${className}`);
    if (!cross) {
      cross = document.createElement("div");
      cross.className = className;
      if (getComputedStyle(gd).position === "static") gd.style.position = "relative";
      gd.appendChild(cross);
    }
    const xy = crosses[chartKey];
    const area = plotArea(gd);
    const pixel = xy && toPixel(gd, xy);
    const px = xy && area.left + pixel[0];
    const py = xy && area.top + pixel[1];
    const inside =
      xy && px >= area.left && px <= area.left + area.width && py >= area.top && py <= area.top + area.height;
    cross.hidden = !inside;
    if (inside) cross.style.transform = `translate(${px}px, ${py}px)`;
  }
}

function visibleRange(chartKey) {
  return axisRanges(graphFor(chartKey));
}

function onKey(event) {
  // Arrow keys nudge the pinned point while the pointer is over a map or the panel. A focused
  // slider keeps its keys, except over a map (a click on a map leaves the focus where it was).
  const { activePanel } = page;
  if (!activePanel?.root.isConnected || !page.pointerInside) return;
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
  const [x, y] = axisRanges(gd);
  const view = { chart: chartKey, x, y };
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
    if (event.pointerType !== "touch" || layoutValue(gd, "dragmode") !== false) return;
    page.touchPinnedAt = performance.now();
    onClick(gd, chartKey, { event });
  });
  decodeUnderFinger(gd);
  gd.addEventListener("pointerenter", () => (page.pointerInside = true));
  gd.addEventListener("pointerleave", (event) => {
    page.pointerInside = false;
    onHover(gd, chartKey, { clientX: NaN, timeStamp: event.timeStamp });
  });
}

function decodeUnderFinger(gd) {
  // Touch: a finger dragged over the map decodes under it, instead of drawing a zoom box or
  // scrolling the page (the toolbar's zoom and pan buttons still work). Again after Streamlit
  // redraws the chart (Plotly.react, at a new width), which brings back the figure's dragmode.
  if (!matchMedia("(pointer: coarse)").matches || layoutValue(gd, "dragmode") === false) return;
  gd.style.touchAction = "none";
  window.Plotly.relayout(gd, { dragmode: false });
}

function isListening(gd) {
  // A new div has no handler; Plotly.newPlot (also run by Plotly.react when the config changes)
  // removes all listeners from the same div, seen only on its event emitter.
  const handler = handlers.get(gd);
  const listeners = clickListeners(gd);
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
    if (!gd || !isDrawn(gd) || !gd.on) continue;
    if (!isListening(gd)) {
      const handler = (event) => {
        if (performance.now() - page.touchPinnedAt > TOUCH_CLICK_MS) onClick(gd, chartKey, event);
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
  if (page.scheduled) return;
  page.scheduled = true;
  requestAnimationFrame(() => {
    page.scheduled = false;
    sync();
  });
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

function mountWeights(key, bytes) {
  // A weights instance: its bundle parsed once and filed under its id (bundles.js), then shown
  // in every panel and pad waiting.
  fileWeights(key, bytes);
  for (const inst of instances.values()) {
    if (inst.live && !inst.failed) refreshPanel(inst);
  }
  for (const pad of pads.values()) pad.redraw();
  return () => forgetWeights(key);
}

function showDrawing(codes) {
  // The drawing's codes, each on its model's map, in every live instance's charts.
  for (const inst of instances.values()) {
    if (inst.live) drawHoverCrosses(inst.charts, drawnPoints(inst.live, codes), DRAWN_POINT);
  }
}

function mountPad(key, parentElement, setTriggerValue, data) {
  // A drawing pad instance: built once, then each rerun's data handed to it.
  let pad = pads.get(key);
  if (!pad?.canvas.isConnected) {
    const holder = parentElement.querySelector(".latent-click-listener");
    if (holder) holder.className = "lx-draw-holder"; // shown, unlike a listener's
    pad = createPad(parentElement.querySelector(".lx-draw-holder"), setTriggerValue, showDrawing);
    pads.set(key, pad);
  }
  updatePad(pad, data);
  return () => pads.delete(key);
}

function mountPanel(inst, parentElement, stale) {
  // The visible panel of a live instance, built once; Python's data then updates it.
  const holder = parentElement.querySelector(".latent-click-listener");
  if (holder) holder.className = "latent-live-holder"; // no longer hidden: this one shows
  if (!inst.panel) {
    inst.panel = createPanel(parentElement.querySelector(".latent-live-holder"), inst.send, visibleRange);
    inst.panel.root.addEventListener("pointerenter", () => {
      page.activePanel = inst.panel;
      page.pointerInside = true;
    });
    inst.panel.root.addEventListener("pointerleave", () => (page.pointerInside = false));
  }
  inst.panel.send = inst.send;
  if (!stale) refreshPanel(inst);
}

export default function mountComponent(component) {
  const { data, key, parentElement, setTriggerValue } = component;
  window.latentExplorerStats = stats;
  if (data instanceof Uint8Array) return mountWeights(key, data);
  if (data?.draw) return mountPad(key, parentElement, setTriggerValue, data.draw);
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
  if (!page.observer) {
    page.observer = new MutationObserver(scheduleSync);
    page.observer.observe(document.body, { childList: true, subtree: true });
    document.addEventListener("keydown", onKey);
  }
  sync();
  return () => instances.delete(key);
}
