// Node check of explorer/web/decoder.js against torch: run by tests/test_decoder_js.py.
// argv: a folder holding bundle.bin, cases.json ({points: {kind: [[z...], ...]}}) and
// expected_<kind>.bin (float32 pixels, point after point). Prints {kind: {max_error,
// ms_per_image}} as JSON and writes the decoded pixels as decoded_<kind>.bin (float32), so the
// test can compare them with more than one oracle. ms_per_image is timed after one warm-up decode.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decode, parseBundle } from "../../explorer/web/decoder.js";

const folder = process.argv[2];
const floats = (path) => {
  const raw = new Uint8Array(readFileSync(path)); // a copy: its own, aligned buffer
  return new Float32Array(raw.buffer, 0, raw.byteLength / 4);
};
const bundle = parseBundle(new Uint8Array(readFileSync(join(folder, "bundle.bin"))));
const cases = JSON.parse(readFileSync(join(folder, "cases.json"), "utf8"));
const result = {};
for (const [kind, points] of Object.entries(cases.points)) {
  const expected = floats(join(folder, `expected_${kind}.bin`));
  const model = bundle.models[kind];
  decode(model, points[0]); // warm-up: the first call also compiles
  const started = performance.now();
  const decoded = points.map((z) => decode(model, z));
  const msPerImage = (performance.now() - started) / points.length;
  const all = new Float32Array(decoded.reduce((n, pixels) => n + pixels.length, 0));
  decoded.forEach((pixels, n) => {
    all.set(pixels, n * pixels.length);
  });
  if (all.length !== expected.length) throw new Error(`${kind}: ${all.length} pixels, expected ${expected.length}`);
  let maxError = 0;
  for (let i = 0; i < all.length; i++) maxError = Math.max(maxError, Math.abs(all[i] - expected[i]));
  writeFileSync(join(folder, `decoded_${kind}.bin`), all);
  result[kind] = { max_error: maxError, ms_per_image: msPerImage };
}
console.log(JSON.stringify(result));
