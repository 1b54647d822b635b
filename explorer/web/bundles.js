// The registry of decoder bundles in the page: the weights instances' bytes (click.py's
// decoder_weights) parsed once each and filed under the bundle's id, which the panels' data
// names. Lives as long as the page, as click.js's instances do. No DOM: Node imports it.
import { parseBundle } from "./decoder.js";

const bundles = new Map(); // bundle id -> {models}, or {error} under "failed:<frontend key>"
const weightsSeen = new Map(); // frontend key of a weights instance -> {print, id}

export function fingerprint(bytes) {
  // Cheap identity of a bundle (a rerun may hand the same bytes over as a new array): its length
  // and an FNV-1a hash of every 61st byte.
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 61) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return `${bytes.length}:${hash >>> 0}`;
}

export function fileWeights(key, bytes) {
  // Parse a weights instance's bundle once (by fingerprint) and file it under the bundle's id,
  // or its failure under "failed:<key>".
  const print = fingerprint(bytes);
  if (weightsSeen.get(key)?.print === print) return;
  let id = `failed:${key}`;
  try {
    const bundle = parseBundle(bytes);
    id = bundle.id;
    bundles.set(id, { models: bundle.models });
  } catch (error) {
    bundles.set(id, { error: error.message });
  }
  weightsSeen.set(key, { print, id });
}

export function forgetWeights(key) {
  // The weights instance unmounted: its bytes are parsed again if they come back.
  weightsSeen.delete(key);
}

export function modelsFor(live) {
  // The models of every bundle the panel names; null until they have all arrived. A bundle
  // that failed to parse has no id to look for: any failure counts.
  for (const bundle of bundles.values()) if (bundle.error) throw new Error(bundle.error);
  const models = {};
  for (const id of live.bundles) {
    if (!bundles.has(id)) return null;
    Object.assign(models, bundles.get(id).models);
  }
  return models;
}
