// Node check of explorer/ui/decoder.js against torch: run by tests/test_decoder_js.py.
// argv: a folder holding bundle.bin and cases.json ({points: {kind: [z...]}, shapes}); prints
// {kind: {max_error, ms_per_image}} as JSON, pixels compared with expected.bin (float32).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode, parseBundle } from "../../explorer/ui/decoder.js";

const folder = process.argv[2];
const bundle = parseBundle(new Uint8Array(readFileSync(join(folder, "bundle.bin"))));
const cases = JSON.parse(readFileSync(join(folder, "cases.json"), "utf8"));
const result = {};
for (const [kind, points] of Object.entries(cases.points)) {
  const raw = readFileSync(join(folder, `expected_${kind}.bin`));
  const expected = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const model = bundle.models[kind];
  let maxError = 0;
  const started = performance.now();
  points.forEach((z, n) => {
    const pixels = decode(model, z);
    const offset = n * pixels.length;
    for (let i = 0; i < pixels.length; i++) maxError = Math.max(maxError, Math.abs(pixels[i] - expected[offset + i]));
  });
  result[kind] = { max_error: maxError, ms_per_image: (performance.now() - started) / points.length };
}
console.log(JSON.stringify(result));
