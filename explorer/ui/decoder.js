// Decoders in the browser: runs the ops of a bundle built by explorer/core/web_decoder.py
// (linear, relu, reshape, conv_transpose, sigmoid, clip) on plain typed arrays, plus the latent math
// the page needs while the mouse moves (the map's linear projection, lerp and slerp).
// Pure functions, no DOM: tests/js/ runs them in Node against torch's numbers.

const MAGIC = "LXD1";

function halfToFloat(h) {
  // IEEE 754 binary16 -> number: sign, 5-bit exponent, 10-bit fraction.
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function readWeights(bytes, start, dtype) {
  // Every weight as one Float32Array (float16 bundles are widened once, at load).
  const body = bytes.subarray(start);
  if (dtype === "float32") {
    return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  }
  if (dtype !== "float16") throw new Error(`unknown dtype ${dtype}`);
  const halves = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = new Float32Array(body.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(halves.getUint16(2 * i, true));
  return out;
}

export function parseBundle(bytes) {
  // Uint8Array -> {id, dtype, models: {kind: {latentDim, imageShape, ops}}}, ops holding their
  // weights as Float32Array views. Throws on anything malformed.
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a decoder bundle");
  const length = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const start = 8 + length + ((4 - ((8 + length) % 4)) % 4);
  const weights = readWeights(bytes, start, header.dtype);
  const view = ([offset, count]) => {
    if (offset + count > weights.length) throw new Error("the bundle is truncated");
    return weights.subarray(offset, offset + count);
  };
  const models = {};
  for (const [kind, model] of Object.entries(header.models)) {
    models[kind] = {
      latentDim: model.latent_dim,
      imageShape: model.image_shape,
      ops: model.ops.map((op) => (op.weight ? { ...op, weight: view(op.weight), bias: view(op.bias) } : op)),
    };
  }
  return { id: header.id, dtype: header.dtype, models };
}

function linear(x, op) {
  // torch.nn.Linear: y = W x + b with W of shape (out, in), row-major.
  const { in: n, out: m, weight, bias } = op;
  const y = new Float64Array(m);
  for (let o = 0; o < m; o++) {
    let sum = bias[o];
    const row = o * n;
    for (let i = 0; i < n; i++) sum += weight[row + i] * x[i];
    y[o] = sum;
  }
  return y;
}

function convTranspose(x, shape, op) {
  // torch.nn.ConvTranspose2d with weight (in, out, k, k): every input pixel scatters a k x k
  // patch into the output. Zero inputs (most, after a ReLU) are skipped.
  const [, h, w] = shape;
  const { in: inC, out: outC, kernel: k, stride: s, padding: p, output_padding: extra } = op;
  const oh = (h - 1) * s - 2 * p + k + extra[0];
  const ow = (w - 1) * s - 2 * p + k + extra[1];
  const plane = oh * ow;
  const y = new Float64Array(outC * plane);
  for (let c = 0; c < outC; c++) y.fill(op.bias[c], c * plane, (c + 1) * plane);
  const kk = k * k;
  for (let ic = 0; ic < inC; ic++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < w; ix++) {
        const v = x[(ic * h + iy) * w + ix];
        if (v === 0) continue;
        const y0 = iy * s - p;
        const x0 = ix * s - p;
        for (let c = 0; c < outC; c++) {
          const wBase = (ic * outC + c) * kk;
          const yBase = c * plane;
          for (let ky = 0; ky < k; ky++) {
            const oy = y0 + ky;
            if (oy < 0 || oy >= oh) continue;
            const row = yBase + oy * ow;
            const wRow = wBase + ky * k;
            for (let kx = 0; kx < k; kx++) {
              const ox = x0 + kx;
              if (ox >= 0 && ox < ow) y[row + ox] += v * op.weight[wRow + kx];
            }
          }
        }
      }
    }
  }
  return [y, [outC, oh, ow]];
}

export function decode(model, z) {
  // One latent point (array of latentDim numbers) -> Float32Array of C*H*W pixels in [0, 1].
  if (z.length !== model.latentDim) throw new Error(`z has ${z.length} numbers, not ${model.latentDim}`);
  let x = Float64Array.from(z);
  let shape = [x.length];
  for (const op of model.ops) {
    if (op.op === "linear") [x, shape] = [linear(x, op), [op.out]];
    else if (op.op === "relu") x = x.map((v) => (v > 0 ? v : 0));
    else if (op.op === "reshape") shape = op.shape;
    else if (op.op === "conv_transpose") [x, shape] = convTranspose(x, shape, op);
    else if (op.op === "sigmoid") x = x.map((v) => 1 / (1 + Math.exp(-v)));
    else if (op.op === "clip") x = x.map((v) => Math.min(1, Math.max(0, v)));
    else throw new Error(`unknown op ${op.op}`);
  }
  return Float32Array.from(x);
}

export function toRGBA(pixels, [c, h, w], out = new Uint8ClampedArray(h * w * 4)) {
  // Planar (C, H, W) in [0, 1] -> interleaved RGBA bytes for an ImageData (grey: C = 1).
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    const r = pixels[i];
    out[4 * i] = Math.round(r * 255);
    out[4 * i + 1] = Math.round((c === 3 ? pixels[plane + i] : r) * 255);
    out[4 * i + 2] = Math.round((c === 3 ? pixels[2 * plane + i] : r) * 255);
    out[4 * i + 3] = 255;
  }
  return out;
}

export function toLatent(projection, [px, py], base = null) {
  // Map coordinates -> latent point on the map's plane (explorer/core/latent.py): from the mean,
  // or keeping base's coordinates off the plane, so toLatent(p, toPlane(p, z), z) is z.
  const { mean, components } = projection;
  let origin = mean;
  if (base) {
    const [bx, by] = toPlane(projection, base);
    origin = base.map((b, i) => b - bx * components[0][i] - by * components[1][i]);
  }
  return origin.map((o, i) => o + px * components[0][i] + py * components[1][i]);
}

export function toPlane(projection, z) {
  const { mean, components } = projection;
  const dot = (axis) => axis.reduce((sum, a, i) => sum + a * (z[i] - mean[i]), 0);
  return [dot(components[0]), dot(components[1])];
}

export function lerp(a, b, t) {
  return a.map((v, i) => (1 - t) * v + t * b[i]);
}

export function slerp(a, b, t) {
  // Great circle between a and b with the norm interpolated linearly; lerp for zero or
  // (anti)parallel vectors, as explorer/core/latent.py does.
  const norm = (v) => Math.hypot(...v);
  const [na, nb] = [norm(a), norm(b)];
  if (na === 0 || nb === 0) return lerp(a, b, t);
  const cos = a.reduce((sum, v, i) => sum + v * b[i], 0) / (na * nb);
  const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
  if (Math.sin(omega) < 1e-6) return lerp(a, b, t);
  const [wa, wb] = [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
  const length = (1 - t) * na + t * nb;
  return a.map((v, i) => (wa * (v / na) + wb * (b[i] / nb)) * length);
}
