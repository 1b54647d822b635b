// Decoders and encoders in the browser: runs the ops of a bundle built by explorer/web/web_decoder.py
// (linear, relu, reshape, conv_transpose, sigmoid, clip; a recurrent decoder's tanh, gru or lstm,
// linear_rows; an encoder's flatten, conv2d, add_pca) on plain typed arrays, plus the latent math the page needs while the mouse moves (the map's linear
// projection, lerp and slerp).
// Pure functions, no DOM: tests/js/ runs them in Node against torch's numbers.

const MAGIC = "LXD1";
// An op's fields that name weights.
const ARRAYS = ["weight", "bias", "mean", "scale", "weight_ih", "weight_hh", "bias_ih", "bias_hh"];

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
  // Uint8Array -> {id, dtype, models: {kind: {latentDim, imageShape, ops, encoder}}}, ops holding
  // their weights as Float32Array views; encoder is {ops} or null (a bundle without encoders).
  // Throws on anything malformed.
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a decoder bundle");
  const length = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const start = 8 + length + ((4 - ((8 + length) % 4)) % 4);
  const weights = readWeights(bytes, start, header.dtype);
  const view = ([offset, count]) => {
    if (offset + count > weights.length) throw new Error("the bundle is truncated");
    return weights.subarray(offset, offset + count);
  };
  const withViews = (op) => {
    const out = { ...op };
    for (const name of ARRAYS) if (name in op) out[name] = view(op[name]);
    return out;
  };
  const models = {};
  for (const [kind, model] of Object.entries(header.models)) {
    models[kind] = {
      latentDim: model.latent_dim,
      imageShape: model.image_shape,
      ops: model.ops.map(withViews),
      encoder: model.encoder ? { ops: model.encoder.ops.map(withViews) } : null,
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
  // patch per output channel into the output. Per input pixel, the patches of all output
  // channels (out * k * k numbers, contiguous in the weight of each input channel) are summed
  // over the pixel's nonzero input channels only (about half are zero after a ReLU), eight
  // channels per pass, then added into the output, with bounds checks only at the edges.
  // Sums in float64: within 2e-7 of torch's float32.
  const [, h, w] = shape;
  const { in: inC, out: outC, kernel: k, stride: s, padding: p, output_padding: extra, weight, bias } = op;
  const oh = (h - 1) * s - 2 * p + k + extra[0];
  const ow = (w - 1) * s - 2 * p + k + extra[1];
  const plane = oh * ow;
  const m = outC * k * k; // one input channel's weights: every output channel's patch
  const y = new Float64Array(outC * plane);
  for (let c = 0; c < outC; c++) y.fill(bias[c], c * plane, (c + 1) * plane);
  const patch = new Float64Array(m);
  // The pixel's nonzero inputs and where their channels' weights start (at least 3 long: the
  // first three are read below before knowing how many there are).
  const values = new Float64Array(Math.max(inC, 3));
  const rows = new Int32Array(Math.max(inC, 3));
  for (let iy = 0; iy < h; iy++) {
    for (let ix = 0; ix < w; ix++) {
      let n = 0;
      for (let ic = 0, at = iy * w + ix; ic < inC; ic++, at += h * w) {
        const v = x[at];
        if (v !== 0) {
          values[n] = v;
          rows[n++] = ic * m;
        }
      }
      if (n === 0) continue;
      // The first n % 4 channels set the patch (or zeros do), then one pass of four if
      // needed, then passes of eight.
      let j = n & 3;
      const [v0, v1, v2] = [values[0], values[1], values[2]];
      const [r0, r1, r2] = [rows[0], rows[1], rows[2]];
      if (j === 0) patch.fill(0);
      else if (j === 1) for (let t = 0; t < m; t++) patch[t] = v0 * weight[r0 + t];
      else if (j === 2) for (let t = 0; t < m; t++) patch[t] = v0 * weight[r0 + t] + v1 * weight[r1 + t];
      else for (let t = 0; t < m; t++) patch[t] = v0 * weight[r0 + t] + v1 * weight[r1 + t] + v2 * weight[r2 + t];
      // biome-ignore format: the unrolled passes read as a grid, one line per four channels
      if ((n - j) & 4) {
        const a0 = values[j], a1 = values[j + 1], a2 = values[j + 2], a3 = values[j + 3];
        const b0 = rows[j], b1 = rows[j + 1], b2 = rows[j + 2], b3 = rows[j + 3];
        for (let t = 0; t < m; t++) {
          patch[t] += a0 * weight[b0 + t] + a1 * weight[b1 + t] + a2 * weight[b2 + t] + a3 * weight[b3 + t];
        }
        j += 4;
      }
      // biome-ignore format: as above
      for (; j < n; j += 8) {
        const a0 = values[j], a1 = values[j + 1], a2 = values[j + 2], a3 = values[j + 3];
        const a4 = values[j + 4], a5 = values[j + 5], a6 = values[j + 6], a7 = values[j + 7];
        const b0 = rows[j], b1 = rows[j + 1], b2 = rows[j + 2], b3 = rows[j + 3];
        const b4 = rows[j + 4], b5 = rows[j + 5], b6 = rows[j + 6], b7 = rows[j + 7];
        for (let t = 0; t < m; t++) {
          patch[t] +=
            a0 * weight[b0 + t] + a1 * weight[b1 + t] + a2 * weight[b2 + t] + a3 * weight[b3 + t] +
            a4 * weight[b4 + t] + a5 * weight[b5 + t] + a6 * weight[b6 + t] + a7 * weight[b7 + t];
        }
      }
      const y0 = iy * s - p;
      const x0 = ix * s - p;
      if (y0 >= 0 && x0 >= 0 && y0 + k <= oh && x0 + k <= ow) {
        for (let c = 0, t = 0; c < outC; c++) {
          for (let ky = 0, at = c * plane + y0 * ow + x0; ky < k; ky++, at += ow) {
            for (let kx = 0; kx < k; kx++) y[at + kx] += patch[t++];
          }
        }
      } else {
        for (let c = 0, t = 0; c < outC; c++) {
          for (let ky = 0, oy = y0; ky < k; ky++, oy++, t += k) {
            if (oy < 0 || oy >= oh) continue;
            const at = c * plane + oy * ow;
            for (let kx = 0, ox = x0; kx < k; kx++, ox++) if (ox >= 0 && ox < ow) y[at + ox] += patch[t + kx];
          }
        }
      }
    }
  }
  return [y, [outC, oh, ow]];
}

export function conv2d(x, shape, op) {
  // torch.nn.Conv2d with zero padding and weight (out, in, k, k) on x (in, h, w) -> [y, [out, oh,
  // ow]]. Per output pixel, its in * k * k inputs are gathered into one column (zeros outside the
  // image), then each output channel is a dot product of its weights (contiguous) with the column,
  // four terms per step: long, branch-free inner loops, the fastest plain JavaScript here (a loop
  // per weight over shifted planes took three times as long on 7 x 7 maps). Sums in float64.
  const [, h, w] = shape;
  const { in: inC, out: outC, kernel: k, stride: s, padding: p, weight, bias } = op;
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  const ow = Math.floor((w + 2 * p - k) / s) + 1;
  if (!(oh >= 1 && ow >= 1)) throw new Error(`a ${k} x ${k} kernel does not fit a ${h} x ${w} image`);
  const plane = oh * ow;
  const n = inC * k * k;
  const n4 = n - (n % 4);
  const column = new Float64Array(n);
  const y = new Float64Array(outC * plane);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const [y0, x0] = [oy * s - p, ox * s - p];
      for (let ic = 0, j = 0; ic < inC; ic++) {
        for (let ky = 0, iy = y0; ky < k; ky++, iy++) {
          const row = (ic * h + iy) * w;
          const inside = iy >= 0 && iy < h;
          for (let kx = 0, ix = x0; kx < k; kx++, ix++) column[j++] = inside && ix >= 0 && ix < w ? x[row + ix] : 0;
        }
      }
      for (let oc = 0, base = 0, at = oy * ow + ox; oc < outC; oc++, base += n, at += plane) {
        let sum = bias[oc];
        let t = 0;
        for (; t < n4; t += 4) {
          sum +=
            weight[base + t] * column[t] +
            weight[base + t + 1] * column[t + 1] +
            weight[base + t + 2] * column[t + 2] +
            weight[base + t + 3] * column[t + 3];
        }
        for (; t < n; t++) sum += weight[base + t] * column[t];
        y[at] = sum;
      }
    }
  }
  return [y, [outC, oh, ow]];
}

function addPca(x, pixels, op) {
  // The residual encoder's linear path (LinearPath.encode, training/models.py), added to x: the
  // image's pixel logits (pixels clipped first, as in training), centred, on the basis, divided
  // by each code's spread.
  const { in: n, out: k, clip, weight, mean, scale } = op;
  const centred = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.min(1 - clip, Math.max(clip, pixels[i]));
    centred[i] = Math.log(v / (1 - v)) - mean[i];
  }
  const codes = linear(centred, { in: n, out: k, weight, bias: new Float64Array(k) });
  for (let j = 0; j < k; j++) x[j] += codes[j] / scale[j];
}

function affine(weight, bias, x, n, m, out) {
  // out = W x + b with W (m, n) row-major: four rows per pass, each input read once for all
  // four (the cells' hot loop; about a fifth faster than four terms per step of one row).
  let o = 0;
  // biome-ignore format: the four rows read as a grid
  for (; o + 3 < m; o += 4) {
    const a = o * n, b = a + n, c = b + n, d = c + n;
    let s0 = bias[o], s1 = bias[o + 1], s2 = bias[o + 2], s3 = bias[o + 3];
    for (let i = 0; i < n; i++) {
      const v = x[i];
      s0 += weight[a + i] * v; s1 += weight[b + i] * v; s2 += weight[c + i] * v; s3 += weight[d + i] * v;
    }
    out[o] = s0; out[o + 1] = s1; out[o + 2] = s2; out[o + 3] = s3;
  }
  for (; o < m; o++) {
    let sum = bias[o];
    for (let i = 0, a = o * n; i < n; i++) sum += weight[a + i] * x[i];
    out[o] = sum;
  }
}

const sigmoid = (v) => 1 / (1 + Math.exp(-v));

function recurrent(x, shape, latent, op) {
  // torch.nn.GRU or nn.LSTM (one layer, batch_first, with biases) in PyTorch's gate order and
  // equations (GRU: r, z, n; LSTM: i, f, g, o). inputs "latent" (a recurrent decoder): x is the
  // initial hidden state (LSTM: cell state zeros), the latent point the input at every step
  // (its product with weight_ih is taken once), and every step's hidden state comes out,
  // (steps, hidden). inputs "rows" (a recurrent encoder): x is the image (C, H, W), its rows
  // (C * W values each, channel by channel; H / steps consecutive rows per step) the inputs,
  // the state starts at zeros, and the last hidden state comes out, (hidden).
  const { op: cell, in: n, hidden: m, steps, inputs } = op;
  const g = (cell === "gru" ? 3 : 4) * m;
  const fromLatent = inputs === "latent";
  const h = fromLatent ? Float64Array.from(x) : new Float64Array(m);
  const c = new Float64Array(m);
  const [gi, gh] = [new Float64Array(g), new Float64Array(g)];
  const states = fromLatent ? new Float64Array(steps * m) : null;
  const row = new Float64Array(n);
  const [channels, height, width] = shape;
  const perStep = height / steps; // rows read per step
  if (fromLatent) affine(op.weight_ih, op.bias_ih, latent, n, g, gi);
  else if (perStep % 1 || perStep * channels * width !== n)
    throw new Error(`rows of ${shape} are not ${steps} steps of ${n}`);
  for (let t = 0; t < steps; t++) {
    if (!fromLatent) {
      for (let r = t * perStep, j = 0; r < (t + 1) * perStep; r++) {
        for (let ch = 0; ch < channels; ch++) {
          for (let col = 0, at = (ch * height + r) * width; col < width; col++) row[j++] = x[at + col];
        }
      }
      affine(op.weight_ih, op.bias_ih, row, n, g, gi);
    }
    affine(op.weight_hh, op.bias_hh, h, m, g, gh); // from the previous state, before h changes
    if (cell === "gru") {
      for (let j = 0; j < m; j++) {
        const r = sigmoid(gi[j] + gh[j]);
        const z = sigmoid(gi[m + j] + gh[m + j]);
        const candidate = Math.tanh(gi[2 * m + j] + r * gh[2 * m + j]);
        h[j] = (1 - z) * candidate + z * h[j];
      }
    } else {
      for (let j = 0; j < m; j++) {
        const i = sigmoid(gi[j] + gh[j]);
        const f = sigmoid(gi[m + j] + gh[m + j]);
        const candidate = Math.tanh(gi[2 * m + j] + gh[2 * m + j]);
        const o = sigmoid(gi[3 * m + j] + gh[3 * m + j]);
        c[j] = f * c[j] + i * candidate;
        h[j] = o * Math.tanh(c[j]);
      }
    }
    if (fromLatent) states.set(h, t * m);
  }
  return fromLatent ? [states, [steps, m]] : [h, [m]];
}

function linearRows(x, [steps, n], op) {
  // Every step's state (steps, n) through torch.nn.Linear (out = F * C * W): rows tF .. tF+F-1
  // of each channel of (C, H, W), as torch's reshape(B, H, C, W).permute(0, 2, 1, 3).
  const [c, h, w] = op.shape;
  const y = new Float64Array(c * h * w);
  const row = new Float64Array(op.out);
  const perStep = h / steps;
  for (let t = 0; t < steps; t++) {
    affine(op.weight, op.bias, x.subarray(t * n, (t + 1) * n), n, op.out, row);
    for (let f = 0, j = 0; f < perStep; f++) {
      const r = t * perStep + f;
      for (let ch = 0; ch < c; ch++) for (let col = 0; col < w; col++) y[(ch * h + r) * w + col] = row[j++];
    }
  }
  return [y, op.shape];
}

function run(ops, input, inputShape) {
  // The ops on input (a latent point, or an image's pixels) of inputShape, in float64.
  let x = Float64Array.from(input);
  let shape = inputShape;
  for (const op of ops) {
    if (op.op === "linear") [x, shape] = [linear(x, op), [op.out]];
    // Elementwise ops in place (x is always run's own array): twice as fast as map.
    // biome-ignore lint/complexity/useMathMinMax: Math.max would keep NaN where this gives 0
    else if (op.op === "relu") for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? x[i] : 0;
    else if (op.op === "reshape") shape = op.shape;
    else if (op.op === "flatten") shape = [x.length];
    else if (op.op === "conv_transpose") [x, shape] = convTranspose(x, shape, op);
    else if (op.op === "conv2d") [x, shape] = conv2d(x, shape, op);
    else if (op.op === "sigmoid") for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
    else if (op.op === "tanh") for (let i = 0; i < x.length; i++) x[i] = Math.tanh(x[i]);
    else if (op.op === "gru" || op.op === "lstm") [x, shape] = recurrent(x, shape, input, op);
    else if (op.op === "linear_rows") [x, shape] = linearRows(x, shape, op);
    else if (op.op === "clip") for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, x[i]));
    else if (op.op === "add_linear") {
      // A skip connection from the latent point itself (the residual decoder's PCA path).
      const skip = linear(Float64Array.from(input), op);
      for (let i = 0; i < x.length; i++) x[i] += skip[i];
    } else if (op.op === "add_pca") addPca(x, input, op);
    else throw new Error(`unknown op ${op.op}`);
  }
  return Float32Array.from(x);
}

export function decode(model, z) {
  // One latent point (array of latentDim numbers) -> Float32Array of C*H*W pixels in [0, 1].
  if (z.length !== model.latentDim) throw new Error(`z has ${z.length} numbers, not ${model.latentDim}`);
  return run(model.ops, z, [z.length]);
}

export function encode(model, pixels) {
  // One image (C*H*W numbers in [0, 1], planar (C, H, W) as the model's images; a Float32Array
  // or any array) -> Float32Array of latentDim numbers: the AE's code z, the VAE's mean mu.
  if (!model.encoder) throw new Error("this bundle has no encoders (web_decoder.bundle(encoders=True))");
  const [c, h, w] = model.imageShape;
  if (pixels?.length !== c * h * w) {
    throw new Error(`the image has ${pixels?.length} pixel values, not ${c * h * w} (${c} x ${h} x ${w})`);
  }
  return run(model.encoder.ops, pixels, model.imageShape);
}

// A signal (image shape [1, T, 1]) is painted as a line on a T x SPARK_HEIGHT raster, the bytes
// of explorer/core/display.py's sparkline (tests/test_display.py checks they are equal).
export const SPARK_HEIGHT = 48;
const [SPARK_PAPER, SPARK_MIDLINE, SPARK_INK] = [255, 215, 40];

export function isSignal([c, h, w]) {
  return c === 1 && w === 1 && h >= 2;
}

export function shownSize(shape) {
  // [width, height] in px of what toRGBA paints for an image of this shape.
  const [, h, w] = shape;
  return isSignal(shape) ? [h, SPARK_HEIGHT] : [w, h];
}

export function sparkline(values, height = SPARK_HEIGHT) {
  // T values (0 at the bottom, 1 at the top; clipped, NaN as 0) -> height x T grey raster as RGBA:
  // column k fills the pixels from sample k's row to sample k + 1's, over a faint midline at 0.5.
  const t = values.length;
  const rowOf = (v) => Math.floor((1 - (Number.isNaN(v) ? 0 : Math.min(Math.max(v, 0), 1))) * (height - 1) + 0.5);
  const grey = new Uint8Array(height * t).fill(SPARK_PAPER);
  grey.fill(SPARK_MIDLINE, rowOf(0.5) * t, (rowOf(0.5) + 1) * t);
  const rows = Array.from(values, rowOf);
  for (let k = 0; k < t; k++) {
    const next = rows[Math.min(k + 1, t - 1)];
    for (let r = Math.min(rows[k], next); r <= Math.max(rows[k], next); r++) grey[r * t + k] = SPARK_INK;
  }
  const out = new Uint8ClampedArray(height * t * 4);
  for (let i = 0; i < grey.length; i++) out.set([grey[i], grey[i], grey[i], 255], 4 * i);
  return out;
}

export function toRGBA(pixels, [c, h, w], out = null) {
  // Planar (C, H, W) in [0, 1] -> interleaved RGBA bytes for an ImageData of shownSize (grey:
  // C = 1; a signal [1, T, 1]: its sparkline).
  if (isSignal([c, h, w])) return sparkline(pixels);
  out ??= new Uint8ClampedArray(h * w * 4);
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
