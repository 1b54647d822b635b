// The Explore page on a phone. Below 640 px Streamlit stacks its columns, so the two maps stood
// one under the other with the decoded images two screens below them, and a finger on a map
// decodes (touch-action: none) instead of scrolling. Here each map of a live panel gets a toggle
// (AE | VAE) that shows one map at a time, and a loupe: the panel's images, copied into a corner
// of the map so that they stay in view under a dragged finger. live.css shows both, hides the
// other map and leaves a strip beside the map that scrolls the page, all only below 640 px: a
// wide screen keeps its side-by-side layout and never sees them.
import { element } from "./dom.js";
import { isDrawn, layoutValue, plotArea } from "./plotly_adapter.js";
import { mapKind } from "./rules.js";

const COLUMN = '[data-testid="stColumn"]'; // the standalone page has no columns: left alone
const LOUPE = "lx-loupe";
const MAP_TOGGLE = "lx-map-toggle";
const LOUPE_MARGIN_PX = 4;
const NARROW = matchMedia("(max-width: 640px)"); // as in live.css
const PHONE_LEGEND = { orientation: "h", x: 0, xanchor: "left", y: -0.15, yanchor: "top" };
const phone = { map: null }; // the chart key of the one map shown on a narrow screen

export function phoneLayout(charts, panel, live, graphOf, onToggle) {
  // Equip the drawn maps of a live panel (graphOf(chartKey) gives its Plotly div; live: the
  // panel's data, null while the server decodes) and mark the ones a narrow screen hides;
  // panel.loupes collects the loupes that draw() copies into.
  const graphs = charts.map((key) => [key, graphOf(key)]).filter(([, gd]) => isDrawn(gd) && gd.closest(COLUMN));
  if (!graphs.length) return;
  const keys = graphs.map(([key]) => key);
  if (!keys.includes(phone.map)) phone.map = keys[0];
  panel.loupes = [];
  for (const [chartKey, gd] of graphs) {
    // Attributes for live.css (the strip beside a map; the maps hidden when narrow), set only
    // on change: this runs at every sync, each frame while the mouse moves on a desktop.
    if (!("lxPhone" in gd.dataset)) gd.dataset.lxPhone = "";
    if ("lxOff" in gd.dataset !== (chartKey !== phone.map)) gd.toggleAttribute("data-lx-off");
    mapToggle(gd, keys, live, onToggle);
    phoneLegend(gd);
    const box = loupe(gd, live?.kinds ?? []);
    if (box) panel.loupes.push(box);
  }
  mirrorLoupes(panel); // a new loupe shows the pinned point before any draw
}

function mapToggle(gd, keys, live, onToggle) {
  // A row of buttons over the map's top left, the shown map's pressed.
  let bar = gd.querySelector(`:scope > .${MAP_TOGGLE}`);
  if (bar?.dataset.charts !== keys.join(" ")) {
    bar?.remove();
    bar = element("div", MAP_TOGGLE, gd);
    bar.dataset.charts = keys.join(" ");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Map shown");
    for (const key of keys) {
      const button = element("button", "", bar);
      button.type = "button";
      button.dataset.chart = key;
      button.textContent = (live?.maps[key]?.kind ?? mapKind(key)).toUpperCase();
      button.addEventListener("click", () => {
        phone.map = key;
        onToggle();
      });
    }
  }
  for (const button of bar.children) {
    const pressed = String(button.dataset.chart === phone.map);
    if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
  }
}

function phoneLegend(gd) {
  // Under the map on a narrow screen, where beside it the legend took a third of the map's
  // width; back where the figure had it on a wider one. Checked on every sync: Streamlit's
  // redraw of a chart brings back the figure's own layout.
  const narrow = NARROW.matches;
  const legend = layoutValue(gd, "legend");
  if (narrow && !gd.lxLegend) gd.lxLegend = Object.fromEntries(Object.keys(PHONE_LEGEND).map((k) => [k, legend[k]]));
  const wanted = narrow ? PHONE_LEGEND : gd.lxLegend;
  if (!wanted || Object.entries(wanted).every(([k, v]) => legend[k] === v)) return;
  window.Plotly.relayout(gd, Object.fromEntries(Object.entries(wanted).map(([k, v]) => [`legend.${k}`, v])));
}

function loupe(gd, kinds) {
  // One small canvas per model, labelled, in a corner of the plot area; it lets touches through.
  // None while the server decodes: the browser's images would be stale.
  let box = gd.querySelector(`:scope > .${LOUPE}`);
  if (box?.dataset.kinds !== kinds.join(" ")) {
    box?.remove();
    if (!kinds.length) return null;
    box = element("div", LOUPE, gd);
    box.dataset.kinds = kinds.join(" ");
    for (const kind of kinds) {
      const figure = element("figure", "", box);
      element("canvas", "", figure).dataset.kind = kind;
      element("figcaption", "", figure).textContent = kind.toUpperCase();
    }
  }
  // Placed again when Streamlit redraws the map (a new width moves the plot area).
  const { left, top, height } = plotArea(gd);
  const area = [left, top, height].join(" ");
  if (box.dataset.area !== area) {
    box.dataset.area = area;
    placeLoupe(gd, null);
  }
  return box;
}

export function placeLoupe(gd, pixel) {
  // The loupe sits at the top of the plot area, or at its bottom while the finger is in the top
  // half (pixel: [px, py] inside the plot area), so that it never hides the point decoded.
  const box = gd.querySelector(`:scope > .${LOUPE}`);
  if (!box || !isDrawn(gd)) return;
  const area = plotArea(gd);
  const low = pixel && pixel[1] < area.height / 2;
  // From the layout's numbers only: reading the box's size here would force a layout per move.
  const bottom = layoutValue(gd, "height") - area.top - area.height + LOUPE_MARGIN_PX;
  Object.assign(box.style, {
    left: `${area.left + LOUPE_MARGIN_PX}px`,
    top: low ? "auto" : `${area.top + LOUPE_MARGIN_PX}px`,
    bottom: low ? `${bottom}px` : "auto",
  });
}

export function mirrorLoupes(panel) {
  // Copy the panel's decoded images into its loupes (a few small drawImage calls per frame);
  // the manifold grid stays in the panel.
  if (panel.gridOn) return;
  for (const box of panel.loupes || []) {
    for (const canvas of box.querySelectorAll("canvas")) {
      const source = panel.cells.get(canvas.dataset.kind)?.picture;
      if (!source?.width) continue;
      if (canvas.width !== source.width || canvas.height !== source.height) {
        Object.assign(canvas, { width: source.width, height: source.height });
      }
      canvas.getContext("2d").drawImage(source, 0, 0);
      canvas.classList.toggle("lx-stale", source.closest("figure").classList.contains("lx-stale"));
    }
  }
}
