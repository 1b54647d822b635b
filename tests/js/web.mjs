// The browser wing's pure modules (no DOM at import) for the Node tests, as they are: explorer/web/*.js are
// ES modules (the "type": "module" of the root package.json), so Node imports them directly.
export * from "../../explorer/web/bundles.js";
export * from "../../explorer/web/decoder.js";
export * from "../../explorer/web/rules.js";
export * from "../../explorer/web/draw.js";
