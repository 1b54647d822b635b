// The standalone page (explorer/web/standalone.py): joined after the component's module (click.js
// and what it imports), in the same script. It draws the maps with the inline Plotly, hands the
// inline weights and the panel's data to mountComponent as Streamlit would, and plays Python's
// part: a click, a released slider or arrow keys pin the point and move the crosses here, in the
// page. Nothing leaves it. Tests read window.latentExplorer.
import mountComponent from "./click.js";
import { decode, parseBundle, shownSize, toLatent, toPlane, toRGBA } from "./decoder.js";
import { mapKind } from "./rules.js";

(async () => {
  const page = JSON.parse(document.getElementById("lx-data").textContent);
  const bytesOf = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const charts = Object.keys(page.figures);
  for (const chart of charts) {
    const { data, layout } = page.figures[chart];
    const div = document.querySelector(`[data-chart="${chart}"]`);
    try {
      await window.Plotly.newPlot(div, data, layout, page.config);
    } catch (error) {
      // The maps need WebGL; without it the panel's sliders still decode.
      div.textContent = `This browser could not draw the map (${error.message}).`;
    }
  }

  const bundle = bytesOf(page.bundle);
  const { models, id, dtype } = parseBundle(bundle);
  mountComponent({ data: bundle, key: "decoder_weights", parentElement: document.body, setTriggerValue: () => {} });

  const { live, points } = page;
  const codes = Object.fromEntries(
    Object.entries(points.codes).map(([kind, text]) => [kind, new Float32Array(bytesOf(text).buffer)]),
  );
  const codeOf = (kind, i) => Array.from(codes[kind].subarray(i * points.dims[kind], (i + 1) * points.dims[kind]));
  const originals = points.originals && bytesOf(points.originals);
  const holder = document.querySelector(".lx-panel");
  // PCA's reconstruction comes from Python for the first point only: later pins have none.
  let state = {
    seq: 0,
    pinned: live.pinned,
    original: live.original,
    pcaPicture: live.pcaPicture,
    marker: page.marker,
    index: live.pinned.index,
  };

  function originalOf(i) {
    // A data point's own image as a data: URL (the panel shows it in an <img>).
    if (!originals) return null;
    const [c, h, w] = points.imageShape;
    const size = c * h * w;
    const pixels = Float32Array.from(originals.subarray(i * size, (i + 1) * size), (v) => v / 255);
    const [width, height] = shownSize([c, h, w]);
    const canvas = Object.assign(document.createElement("canvas"), { width, height });
    canvas.getContext("2d").putImageData(new ImageData(toRGBA(pixels, [c, h, w]), width, height), 0, 0);
    return canvas.toDataURL();
  }

  function markersAt(perKind) {
    // The pinned point on each map whose kind has a code in perKind.
    const marker = {};
    for (const [chart, map] of Object.entries(live.maps)) {
      if (map.kind in perKind) marker[chart] = toPlane(map.projection, perKind[map.kind]);
    }
    return marker;
  }

  function pinPoint(z) {
    state = { ...state, pinned: { index: null, z, codes: null }, original: null, pcaPicture: null, index: null };
    const shared = live.kinds.filter((kind) => !(kind in live.ownLatent)); // AE and VAE: one z
    state.marker = markersAt(Object.fromEntries(shared.map((kind) => [kind, z])));
  }

  function follow(click) {
    // As explorer/ui/point.follow_click: a dot pins its own code in each model; empty space on
    // a model's map pins the spot; empty space on PCA's map changes nothing.
    const kind = mapKind(click.chart);
    state.seq = click.seq;
    if (click.point_index !== null && click.point_index < codes.vae.length / points.dims.vae) {
      const i = click.point_index;
      const own = Object.fromEntries(Object.keys(codes).map((k) => [k, codeOf(k, i)]));
      const z = own[kind in codes && kind !== "pca" ? kind : "vae"];
      state = { ...state, pinned: { index: i, z, codes: own }, original: originalOf(i), pcaPicture: null, index: i };
      state.marker = markersAt(own);
    } else if (live.maps[click.chart] && !(kind in live.ownLatent)) {
      pinPoint(toLatent(live.maps[click.chart].projection, [click.x, click.y]));
    }
  }

  function answer(name, value) {
    // What Python does with the component's trigger values, then the rerun's new data.
    if (name === "click") follow(value);
    else if (name === "point") pinPoint(value.z);
    else if (name === "fallback") {
      const note = holder.querySelector(".lx-problem") || holder.appendChild(document.createElement("p"));
      note.className = "lx-problem";
      note.textContent = `This browser cannot decode: ${value}.`;
      return;
    } else return; // "view": nothing follows a zoom here
    queueMicrotask(mount); // after click.js has finished handling the event
  }

  function mount() {
    const captions = { ...live.captions, data: { ...live.captions.data, original: `data point #${state.index}` } };
    const data = {
      charts,
      marker: state.marker,
      seq: state.seq,
      live: { ...live, pinned: state.pinned, original: state.original, pcaPicture: state.pcaPicture, captions },
    };
    mountComponent({ data, key: "latent_click", parentElement: holder, setTriggerValue: answer });
  }

  mount();
  window.latentExplorer = {
    id,
    dtype,
    decode: (kind, z) => Array.from(decode(models[kind], z)),
    ready: true,
  };
})();
