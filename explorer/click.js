// Click-anywhere listener for Plotly charts drawn with st.plotly_chart(fig, key=...): see click.py.
//
// Module state lives as long as the page: Streamlit imports this module once and calls the default
// export again whenever `data` changes, without running the previous call's cleanup (only the
// unmount cleanup runs), so per-instance state sits in `instances`, keyed by the frontend key.

const MARKER = "latent-click-marker"; // name of our shapes, so the figure's own shapes stay
const ARM_PX = 7; // half-length of the cross's arms, in screen pixels at any zoom
const instances = new Map(); // frontend key -> {charts, marker, send}
let seq = 0;
let observer = null;
let scheduled = false;

function graphFor(chartKey) {
  // Streamlit puts the class st-key-<key> on a keyed element's container.
  return document.querySelector(`.st-key-${CSS.escape(chartKey)} .js-plotly-plot`);
}

function crossShapes(marker, color) {
  const [x, y] = marker;
  const arm = { type: "line", name: MARKER, xref: "x", yref: "y", xanchor: x, yanchor: y,
    xsizemode: "pixel", ysizemode: "pixel", line: { color, width: 2.5 }, layer: "above" };
  return [
    { ...arm, x0: -ARM_PX, x1: ARM_PX, y0: 0, y1: 0 },
    { ...arm, x0: 0, x1: 0, y0: -ARM_PX, y1: ARM_PX },
  ];
}

function drawMarker(gd, marker, color) {
  // Relayout only what changed: a shapes-only relayout keeps the user's zoom and pan.
  const shapes = gd.layout.shapes || [];
  const ours = shapes.filter((s) => s.name === MARKER);
  const same = marker
    ? ours.length === 2 && ours.every((s) => s.xanchor === marker[0] && s.yanchor === marker[1])
    : ours.length === 0;
  if (same) return;
  const others = shapes.filter((s) => s.name !== MARKER);
  window.Plotly.relayout(gd, { shapes: marker ? [...others, ...crossShapes(marker, color)] : others });
}

function clickOf(chartKey, event) {
  // Trace 0 holds the codes: a hovered point of it wins, else the exact spot clicked.
  const hit = (event.points || []).find((p) => p.curveNumber === 0);
  if (hit) return { chart: chartKey, x: hit.x, y: hit.y, point_index: hit.pointNumber };
  if (!event.xvals || !event.yvals) return null;
  return { chart: chartKey, x: event.xvals[0], y: event.yvals[0], point_index: null };
}

function onClick(chartKey, event) {
  const click = clickOf(chartKey, event);
  if (!click || !Number.isFinite(click.x) || !Number.isFinite(click.y)) return;
  click.seq = ++seq;
  for (const inst of instances.values()) {
    if (!inst.charts.includes(chartKey)) continue;
    inst.marker = [click.x, click.y]; // instant feedback, before Python answers
    inst.sentSeq = click.seq;
    sync();
    inst.send("click", click);
  }
}

function sync() {
  // Attach to every listed graph div (new ones appear on reruns) and draw each marker.
  if (!window.Plotly) return; // Streamlit sets it when it loads its first Plotly chart
  for (const inst of instances.values()) {
    for (const chartKey of inst.charts) {
      const gd = graphFor(chartKey);
      if (!gd || !gd._fullLayout || !gd.on) continue;
      if (gd.dataset.latentClick !== chartKey) {
        gd.dataset.latentClick = chartKey; // marks a listening graph div (a new div has none)
        gd.on("plotly_click", (event) => onClick(chartKey, event));
      }
      drawMarker(gd, inst.marker, inst.color);
    }
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
  const host = parentElement.host || parentElement;
  const color = getComputedStyle(host).getPropertyValue("--st-primary-color").trim() || "#ff4b4b";
  const previous = instances.get(key);
  // A click Python has not seen yet keeps its instant marker until the rerun it caused arrives.
  const stale = previous && (data?.seq ?? 0) < previous.sentSeq;
  instances.set(key, {
    charts: data?.charts || [],
    marker: stale ? previous.marker : data?.marker || null,
    color,
    send: setTriggerValue,
    sentSeq: previous ? previous.sentSeq : 0,
  });
  if (!observer) {
    observer = new MutationObserver(scheduleSync);
    observer.observe(document.body, { childList: true, subtree: true });
  }
  sync();
  return () => {
    instances.delete(key);
  };
}
