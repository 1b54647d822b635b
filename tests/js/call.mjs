// Calls the exports of explorer/web's pure modules (web.mjs: decoder.js, rules.js, bundles.js) for
// tests/test_decoder_js.py and tests/test_web_rules.py: reads a JSON list of
// calls [{fn, args}] on stdin, prints one JSON list of results [{ok: value} | {error: message}].
// Arguments written as {"$bytes": path, "offset": n} become a Uint8Array of the file's bytes,
// starting n bytes into a larger buffer (an unaligned view); {"$f32": [...]} a Float32Array;
// {"$model": path, "kind": kind} that model of the bundle at path. In results, typed arrays
// become plain arrays, and NaN, Infinity, -Infinity and -0 become strings (JSON has none).
import { readFileSync } from "node:fs";
import * as web from "./web.mjs";

const functions = { ...web }; // looked up by name

function argument(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  if ("$bytes" in value) {
    const file = readFileSync(value.$bytes);
    const offset = value.offset ?? 0;
    const buffer = new Uint8Array(offset + file.length);
    buffer.set(file, offset);
    return buffer.subarray(offset);
  }
  if ("$f32" in value) return Float32Array.from(value.$f32);
  if ("$model" in value) return web.parseBundle(new Uint8Array(readFileSync(value.$model))).models[value.kind];
  return value;
}

function encode(_key, value) {
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0)))
    return String(value === 0 ? "-0" : value);
  return value;
}

const calls = JSON.parse(readFileSync(0, "utf8"));
const results = calls.map(({ fn, args }) => {
  try {
    return { ok: functions[fn](...args.map(argument)) };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
});
console.log(JSON.stringify(results, encode));
