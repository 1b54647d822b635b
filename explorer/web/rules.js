// The live panel's rules that mirror Python's, as pure functions (no DOM): Node imports this
// module and tests/test_web_rules.py checks each against the Python it mirrors.
import { lerp, slerp, toPlane } from "./decoder.js";

export function mapKind(chart) {
  // The kind ("ae", "vae", "pca") whose map has this chart key, as explorer/core/figures.map_kind.
  return chart.replace(/^map_/, "");
}

export function stripValues(t, n) {
  // n values from -|t| to +|t| (from -1 to 1 at t = 0), as explorer/core/concepts.strip_alphas.
  const a = Math.abs(t) || 1;
  return Array.from({ length: n }, (_, i) => (n === 1 ? -a : -a + (2 * a * i) / (n - 1)));
}

export function scrubCodes(scrub, t) {
  // Each model's point at t: from + t * to ("line", as explorer/core/concepts.edit with `to` the
  // step), or lerp / slerp from -> to (explorer/core/latent.py).
  const codes = {};
  for (const [kind, a] of Object.entries(scrub.from)) {
    const b = scrub.to[kind];
    if (scrub.method === "line") codes[kind] = a.map((v, i) => v + t * b[i]);
    else codes[kind] = scrub.method === "slerp" ? slerp(a, b, t) : lerp(a, b, t);
  }
  return codes;
}

export function crossesFor(live, z) {
  // Where latent point z sits on every map that shares the models' latent space, as
  // explorer/ui/point.markers places a point that is not a data point.
  const crosses = {};
  for (const [chartKey, map] of Object.entries(live.maps)) {
    if (!(map.kind in live.ownLatent)) crosses[chartKey] = toPlane(map.projection, z);
  }
  return crosses;
}

export function drawnPoints(live, codes) {
  // Where a drawing lands on every map of a model that encoded it: each model's own code
  // (codes.ae, codes.vae) through that map's projection, as explorer/core/figures places the
  // codes of the data.
  const points = {};
  for (const [chartKey, map] of Object.entries(live.maps)) {
    if (codes[map.kind]) points[chartKey] = toPlane(map.projection, codes[map.kind]);
  }
  return points;
}
