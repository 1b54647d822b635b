// The browser wing's modules with no DOM at import, for the Node tests, as they are: explorer/web's
// files are ES modules (the "type": "module" of the root package.json), so Node imports them.
export * from "../../explorer/web/bundles.js";
export * from "../../explorer/web/decoder.js";
export * from "../../explorer/web/draw.js";
export * from "../../explorer/web/rules.js";
