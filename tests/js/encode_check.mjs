// Node check of explorer/web/decoder.js's encode: run by tests/test_encoder_js.py.
// argv: a folder holding bundle.bin, cases.json ({kinds: [kind...], repeats}) and images.bin
// (float32 pixels, image after image, each as the models' (C, H, W)). Writes the codes as
// encoded_<kind>.bin (float32, image after image) and prints {kind: {ms_per_encode}} as JSON,
// timed over `repeats` passes through the images after one warm-up encode.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode, parseBundle } from "../../explorer/web/decoder.js";

const folder = process.argv[2];
const raw = new Uint8Array(readFileSync(join(folder, "images.bin"))); // its own, aligned buffer
const all = new Float32Array(raw.buffer, 0, raw.byteLength / 4);
const bundle = parseBundle(new Uint8Array(readFileSync(join(folder, "bundle.bin"))));
const { kinds, repeats } = JSON.parse(readFileSync(join(folder, "cases.json"), "utf8"));
const result = {};
for (const kind of kinds) {
  const model = bundle.models[kind];
  const n = model.imageShape.reduce((a, b) => a * b);
  const images = Array.from({ length: all.length / n }, (_, i) => all.subarray(i * n, (i + 1) * n));
  encode(model, images[0]); // warm-up: the first call also compiles
  const started = performance.now();
  for (let r = 0; r < repeats; r++) for (const image of images) encode(model, image);
  const msPerEncode = (performance.now() - started) / (repeats * images.length);
  const codes = new Float32Array(images.length * model.latentDim);
  images.forEach((image, i) => {
    codes.set(encode(model, image), i * model.latentDim);
  });
  writeFileSync(join(folder, `encoded_${kind}.bin`), codes);
  result[kind] = { ms_per_encode: msPerEncode };
}
console.log(JSON.stringify(result));
