// Every read of Plotly's private fields (_fullLayout, _fullData, _offset, _length, _ev, and the
// axes' d2p/p2d) is here, so that a Plotly upgrade is checked in one place. Written against
// plotly.js 4.2.0, the one Streamlit 1.67 bundles (src/version.js in its PlotlyChart chunk),
// and 4.1.1, the one plotly.py inlines in the standalone page (explorer/web/standalone.py).
// A graph div (gd) has _fullLayout once Plotly has drawn it.

export function isDrawn(gd) {
  return !!gd?._fullLayout;
}

export function plotArea(gd) {
  // The plot area inside the graph div, in pixels: its top-left corner and size.
  const { xaxis, yaxis } = gd._fullLayout;
  return { left: xaxis._offset, top: yaxis._offset, width: xaxis._length, height: yaxis._length };
}

export function toPixel(gd, [x, y]) {
  // Data coordinates -> pixels from the plot area's top-left corner.
  const { xaxis, yaxis } = gd._fullLayout;
  return [xaxis.d2p(x), yaxis.d2p(y)];
}

export function toData(gd, [px, py]) {
  // Pixels from the plot area's top-left corner -> data coordinates.
  const { xaxis, yaxis } = gd._fullLayout;
  return [xaxis.p2d(px), yaxis.p2d(py)];
}

export function axisRanges(gd) {
  // The visible [[x0, x1], [y0, y1]], as numbers.
  const { xaxis, yaxis } = gd._fullLayout;
  return [[...xaxis.range].map(Number), [...yaxis.range].map(Number)];
}

export function layoutValue(gd, name) {
  // A layout attribute with Plotly's defaults filled in (hoverdistance, dragmode, legend,
  // height), where gd.layout holds only what the figure set.
  return gd._fullLayout[name];
}

export function firstTrace(gd) {
  // Trace 0 with Plotly's defaults filled in, and how many points it draws.
  const trace = gd._fullData[0];
  return trace && { trace, length: trace._length };
}

export function clickListeners(gd) {
  // The plotly_click handlers on the div's event emitter: Plotly.newPlot drops them all
  // without an event; undefined where the emitter cannot say.
  return gd._ev?.listeners?.("plotly_click");
}
