// Click-anywhere listener for Plotly charts drawn with st.plotly_chart(fig, key=...): see click.py.
//
// Module state lives as long as the page: Streamlit imports this module once and calls the default
// export again whenever `data` changes, without running the previous call's cleanup (only the
// unmount cleanup runs), so per-instance state sits in `instances`, keyed by the frontend key.

const MARKER = "latent-click-marker"; // name of our shapes, so the figure's own shapes stay
const ARM_PX = 7; // half-length of the cross's arms, in screen pixels at any zoom
const instances = new Map(); // frontend key -> {charts, marker, color, send, sentSeq}
const handlers = new WeakMap(); // graph div -> our plotly_click handler on it
let seq = 0;
let observer = null;
let scheduled = false;

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

function clickOf(gd, chartKey, event) {
  const mouse = event.event;
  const { xaxis, yaxis } = gd._fullLayout;
  if (!mouse || !Number.isFinite(mouse.clientX)) return null;
  const box = gd.getBoundingClientRect();
  const px = mouse.clientX - box.left - xaxis._offset; // pixels inside the plot area
  const py = mouse.clientY - box.top - yaxis._offset;
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
    inst.send("click", click);
  }
  sync();
}

function onRelayout(gd, chartKey, update) {
  // Report the visible area after a zoom, pan or autoscale; our own marker relayouts (shapes
  // only) are not a change of view.
  if (!Object.keys(update || {}).some((k) => k.startsWith("xaxis") || k.startsWith("yaxis"))) return;
  const { xaxis, yaxis } = gd._fullLayout;
  const view = { chart: chartKey, x: [...xaxis.range].map(Number), y: [...yaxis.range].map(Number) };
  for (const inst of instances.values()) {
    if (inst.charts.includes(chartKey)) inst.send("view", view);
  }
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
      const handler = (event) => onClick(gd, chartKey, event);
      handlers.set(gd, handler);
      gd.on("plotly_click", handler);
      gd.on("plotly_relayout", (update) => onRelayout(gd, chartKey, update));
      gd.dataset.latentClick = chartKey; // says "listening" to tests and DOM inspectors
    }
    // One marker for every chart (a click's instant feedback) or one per chart key.
    const marker = Array.isArray(inst.marker) ? inst.marker : (inst.marker?.[chartKey] ?? null);
    drawMarker(gd, marker, inst.color);
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

export default function (component) {
  const { data, key, parentElement, setTriggerValue } = component;
  const color = getComputedStyle(parentElement).getPropertyValue("--st-primary-color").trim();
  const previous = instances.get(key);
  const sentSeq = previous ? previous.sentSeq : 0;
  // Data from a rerun older than our last click (Python's seq lags) would pull the cross back.
  const stale = (data?.seq ?? 0) < sentSeq;
  instances.set(key, {
    charts: data?.charts || [],
    marker: stale ? previous.marker : data?.marker || null,
    color: color || "#ff4b4b",
    send: setTriggerValue,
    sentSeq,
  });
  if (!observer) {
    observer = new MutationObserver(scheduleSync);
    observer.observe(document.body, { childList: true, subtree: true });
  }
  sync();
  return () => instances.delete(key);
}
