// The drawing pad (explorer/ui/draw.py): a student draws with mouse, pen or finger; as they draw,
// both encoders (decoder.js's encode) turn the drawing into codes, both decoders turn the codes
// back into reconstructions beside the pad, and onCodes puts the point on the maps (click.js).
// "Send to the class map" sends the drawing's pixels; the server encodes them again itself.
import { modelsFor } from "./bundles.js";
import { decode, encode, shownSize, toRGBA } from "./decoder.js";
import { element } from "./dom.js";

const PAD_PX = 200; // the pad's side on screen; it draws at the models' own resolution below it
const BRUSH = 0.09; // the brush's diameter, as a share of the pad's side

export function downsample(rgba, side, [c, h, w]) {
  // The pad's RGBA bytes (side x side) -> planar (C, H, W) values in [0, 1]: each output pixel
  // the mean of the block of pad pixels it covers (grey: the mean of red, green and blue).
  const out = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [y0, y1, x0, x1] = [(y * side) / h, ((y + 1) * side) / h, (x * side) / w, ((x + 1) * side) / w].map(
        Math.round,
      );
      const sums = [0, 0, 0];
      for (let py = y0; py < y1; py++) {
        for (let px = x0; px < x1; px++) {
          const i = 4 * (py * side + px);
          for (let k = 0; k < 3; k++) sums[k] += rgba[i + k];
        }
      }
      const n = 255 * (y1 - y0) * (x1 - x0);
      if (c === 1) out[y * w + x] = (sums[0] + sums[1] + sums[2]) / (3 * n);
      else for (let k = 0; k < 3; k++) out[k * h * w + y * w + x] = sums[k] / n;
    }
  }
  return out;
}

function imageCanvas(parent, caption) {
  const cell = element("figure", "lx-draw-cell", parent);
  const canvas = element("canvas", "lx-draw-recon", cell);
  element("figcaption", "", cell).textContent = caption;
  return canvas;
}

function paintCanvas(canvas, pixels, shape) {
  const [w, h] = shownSize(shape);
  canvas.width = w;
  canvas.height = h;
  const image = new ImageData(toRGBA(pixels, shape), w, h);
  canvas.getContext("2d").putImageData(image, 0, 0);
}

export function createPad(root, send, onCodes) {
  // The pad's DOM, built once per component instance; update() hands it each rerun's data.
  const pad = { data: null, drawing: false, last: null, dirty: false };
  const row = element("div", "lx-draw", root);
  const left = element("div", "lx-draw-left", row);
  pad.canvas = element("canvas", "lx-draw-pad", left);
  pad.canvas.width = pad.canvas.height = PAD_PX;
  pad.canvas.setAttribute("aria-label", "drawing pad");
  pad.canvas.dataset.testid = "lx-draw-pad";
  const tools = element("div", "lx-draw-tools", left);
  pad.color = element("input", "lx-draw-color", tools);
  pad.color.type = "color";
  pad.color.title = "brush colour";
  const clear = element("button", "lx-draw-button", tools);
  clear.textContent = "Clear";
  pad.sendButton = element("button", "lx-draw-button lx-draw-send", tools);
  pad.sendButton.textContent = "Send to the class map";
  pad.note = element("div", "lx-draw-note", left);
  const recons = element("div", "lx-draw-recons", row);
  pad.recon = { ae: imageCanvas(recons, "AE"), vae: imageCanvas(recons, "VAE") };

  const ctx = pad.canvas.getContext("2d", { willReadFrequently: true });
  const at = (event) => {
    const box = pad.canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * PAD_PX) / box.width, ((event.clientY - box.top) * PAD_PX) / box.height];
  };
  const stroke = (from, to) => {
    ctx.strokeStyle = pad.data.grey ? "#ffffff" : pad.color.value;
    ctx.lineWidth = BRUSH * PAD_PX;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
    scheduleEncode();
  };
  pad.canvas.addEventListener("pointerdown", (event) => {
    if (!pad.data) return;
    try {
      pad.canvas.setPointerCapture(event.pointerId); // keep drawing when a stroke leaves the pad
    } catch {
      // a synthetic event's pointer cannot be captured: the stroke still draws
    }
    pad.drawing = true;
    pad.touched = true;
    pad.last = at(event);
    stroke(pad.last, pad.last);
  });
  pad.canvas.addEventListener("pointermove", (event) => {
    if (!pad.drawing) return;
    const point = at(event);
    stroke(pad.last, point);
    pad.last = point;
  });
  const end = () => (pad.drawing = false);
  pad.canvas.addEventListener("pointerup", end);
  pad.canvas.addEventListener("pointercancel", end);
  clear.addEventListener("click", () => reset(pad));
  pad.sendButton.addEventListener("click", () => {
    if (!pad.pixels) return;
    send("send", { pixels: Array.from(pad.pixels, (v) => Math.round(v * 255)) });
    pad.note.textContent = "Sent: your drawing is on the teacher's map.";
  });

  let scheduled = false;
  const scheduleEncode = () => {
    // At most one encode per frame, however fast the pointer moves.
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      encodeDrawing(pad, ctx, onCodes);
    });
  };
  pad.redraw = scheduleEncode;
  return pad;
}

function reset(pad) {
  const ctx = pad.canvas.getContext("2d");
  ctx.fillStyle = "#000000";
  ctx.fillRect(0, 0, PAD_PX, PAD_PX);
  if (pad.background) ctx.drawImage(pad.background, 0, 0, PAD_PX, PAD_PX);
  pad.note.textContent = "";
  pad.touched = false; // no ring on the maps until the student draws
  pad.redraw();
}

function encodeDrawing(pad, ctx, onCodes) {
  // Encode what is on the pad with both models, draw both reconstructions, and place the
  // codes on the maps; a model that cannot run says so under the pad.
  let models = null;
  try {
    models = modelsFor(pad.data.live);
  } catch (error) {
    pad.note.textContent = `The browser could not load the encoders (${error.message}).`;
    return;
  }
  if (!models) return; // the weights are still on their way
  const shape = pad.data.shape;
  pad.pixels = downsample(ctx.getImageData(0, 0, PAD_PX, PAD_PX).data, PAD_PX, shape);
  const codes = {};
  for (const kind of ["ae", "vae"]) {
    const model = models[kind];
    codes[kind] = Array.from(encode(model, pad.pixels));
    paintCanvas(pad.recon[kind], decode(model, codes[kind]), shape);
  }
  pad.codes = codes;
  pad.canvas.dataset.codes = JSON.stringify(codes); // for tests and DOM inspectors
  onCodes(pad.touched ? codes : {}); // {}: the rings hide
}

export function updatePad(pad, data) {
  // A rerun's data: {shape, grey, live: {bundles}, background (a data: URL, or null), sendable}.
  const first = !pad.data;
  pad.data = data;
  pad.color.hidden = data.grey;
  pad.sendButton.hidden = !data.sendable;
  if (first) {
    if (data.background) {
      const image = new Image();
      image.onload = () => {
        pad.background = image;
        reset(pad);
      };
      image.src = data.background;
    }
    reset(pad);
  } else {
    pad.redraw();
  }
}
