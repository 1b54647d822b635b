// explorer/ui/decoder.js as an ES module in any Node from 18 on. It is a plain .js file with no
// "type": "module" package.json above it: Node 18 (Debian 12's nodejs) reads such a file as
// CommonJS and has no --experimental-detect-module, so its source is imported as a data: URL,
// which is always a module. decoder.js has no imports of its own, so nothing else is needed.
import { readFileSync } from "node:fs";

const source = readFileSync(new URL("../../explorer/ui/decoder.js", import.meta.url));
const url = `data:text/javascript;base64,${source.toString("base64")}`;
export const { decode, lerp, parseBundle, slerp, toLatent, toPlane, toRGBA } = await import(url);
