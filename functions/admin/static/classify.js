// The category model in the browser: the photo prepared exactly as fashiontag.images prepares it
// on the server (decode, orient, flatten alpha onto white, fit within 512 px, squash to the
// model's side with Pillow's BOX filter), then the served .tflite run by LiteRT.js (its wasm is
// served by the admin function; no CDN). The server's prediction stays the record: this is
// an instant preview.
//
// Exactness, measured against Pillow 13 in Chromium: JPEG and PNG decode to the same pixels,
// and each pass of Pillow's BOX filter is repeated integer for integer (fixed-point weights,
// rounding to 8 bits). Pillow 13 sometimes runs the vertical pass first or keeps more
// precision between passes (mostly on tall photos); there the inputs differ by one level of
// 255 on some pixels. Larger differences come only from photos the server decodes in a
// cheaper way: a JPEG whose both sides reach 1024 px is decoded at 1/2..1/8 scale (libjpeg's
// DCT scaling), and a side from 2048 px is first reduced by an integer factor; the browser
// decodes at full size and resizes once. Alpha is flattened by the browser's compositing,
// which may round differently from Pillow's by one level.
"use strict";

const WORKING_SIDE = 512; // fashiontag.images.WORKING_SIDE
const PRECISION_BITS = 22; // Pillow's Resample.c, 8 bits a channel
const HALF = 2 ** (PRECISION_BITS - 1);
const ONE = 2 ** PRECISION_BITS;

// Pillow's precompute_coeffs for the BOX filter (support 0.5), normalised to fixed point.
function boxCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 0.5 * filterscale;
  const ss = 1 / filterscale; // Pillow multiplies by the reciprocal: same rounding at the edges
  const bounds = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const weights = [];
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const arg = (x + xmin - center + 0.5) * ss;
      const w = arg > -0.5 && arg <= 0.5 ? 1 : 0;
      weights.push(w);
      total += w;
    }
    const fixed = weights.map((w) => Math.trunc(0.5 + (total ? w / total : w) * ONE));
    bounds.push({ min: xmin, weights: fixed });
  }
  return bounds;
}

function clip8(sum) {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// One pass of Pillow's resample along one axis of an RGB image (3 bytes a pixel).
function resamplePass(src, width, height, outSize, horizontal) {
  const coefficients = boxCoefficients(horizontal ? width : height, outSize);
  const outWidth = horizontal ? outSize : width;
  const outHeight = horizontal ? height : outSize;
  const out = new Uint8Array(outWidth * outHeight * 3);
  // distance between neighbours along the resampled axis, in bytes
  const step = horizontal ? 3 : width * 3;
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { min, weights } = coefficients[horizontal ? x : y];
      const first = horizontal ? (y * width + min) * 3 : (min * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let sum = HALF;
        for (let k = 0; k < weights.length; k++) sum += src[first + k * step + c] * weights[k];
        out[(y * outWidth + x) * 3 + c] = clip8(sum);
      }
    }
  }
  return out;
}

// RGB (3 bytes a pixel) resized like PIL.Image.resize((w, h), Resampling.BOX): the horizontal
// pass, rounding to 8 bits, the vertical pass.
export function boxResize(rgb, width, height, outWidth, outHeight) {
  const wide = outWidth === width ? rgb : resamplePass(rgb, width, height, outWidth, true);
  return outHeight === height ? wide : resamplePass(wide, outWidth, height, outHeight, false);
}

// PIL.Image.thumbnail's size for a (width, height) photo fitted within side x side.
export function thumbnailSize(width, height, side = WORKING_SIDE) {
  if (side >= width && side >= height) return [width, height];
  const aspect = width / height;
  const roundAspect = (number, key) => {
    const lo = Math.floor(number);
    const hi = Math.ceil(number);
    return Math.max(key(hi) < key(lo) ? hi : lo, 1);
  };
  if (1 >= aspect) return [roundAspect(side * aspect, (n) => Math.abs(aspect - n / side)), side];
  return [side, roundAspect(side / aspect, (n) => (n === 0 ? 0 : Math.abs(aspect - side / n)))];
}

// The photo as upright 8-bit RGB, transparent parts on white (fashiontag.images.decode).
async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", colorSpaceConversion: "none" });
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { rgb, width, height };
}

// The model's input for a photo file: float32 0..255, (side, side, 3), like images.model_input.
export async function modelInput(blob, side) {
  const photo = await decode(blob);
  const [w, h] = thumbnailSize(photo.width, photo.height);
  const working = boxResize(photo.rgb, photo.width, photo.height, w, h);
  return Float32Array.from(boxResize(working, w, h, side, side));
}

// softmax(log(p) / T), as fashiontag.calibration.apply_temperature.
export function applyTemperature(probs, temperature) {
  if (temperature === 1) return Array.from(probs);
  const logits = Array.from(probs, (p) => Math.log(Math.min(Math.max(p, 1e-12), 1)) / temperature);
  const peak = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - peak));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

let runtime = null; // one LiteRT.js runtime per page

async function loadRuntime(runtimeUrl) {
  if (!runtime) {
    runtime = import(`${runtimeUrl}litert.js`).then(async (litert) => {
      await litert.loadLiteRt(runtimeUrl);
      return litert;
    });
    runtime.catch(() => {
      runtime = null;
    });
  }
  return runtime;
}

// A classifier for one model version: `info` is /api/browser-model's answer, `bytes` the
// version's model.tflite. classify(blob) -> {label, confidence, top: [{label, confidence}],
// probabilities, ms}.
export async function loadClassifier(info, bytes) {
  const litert = await loadRuntime(info.runtime_url);
  const model = await litert.loadAndCompile(new Uint8Array(bytes), { accelerator: "wasm" });
  const labels = info.labels;
  const [side] = info.input.shape;
  // The class probabilities are the output shaped [1, labels]; the other is the garment map.
  const outputs = model.getOutputDetails();
  const probsAt = outputs.findIndex((o) => o.shape.length === 2 && o.shape[1] === labels.length);
  if (probsAt < 0) throw new Error("the model has no output for its labels");
  let queue = Promise.resolve(); // one run at a time: the runtime is single-threaded

  async function run(input) {
    const tensor = new litert.Tensor(input, [1, side, side, 3]);
    try {
      const results = await model.run([tensor]);
      try {
        return Array.from(results[probsAt].toTypedArray());
      } finally {
        for (const r of results) r.delete();
      }
    } finally {
      tensor.delete();
    }
  }

  async function classify(blob) {
    const input = await modelInput(blob, side);
    const turn = queue.then(async () => {
      const started = performance.now();
      const raw = await run(input);
      return { raw, ms: performance.now() - started };
    });
    queue = turn.catch(() => {});
    const { raw, ms } = await turn;
    const probabilities = applyTemperature(raw, info.temperature ?? 1);
    const top = probabilities
      .map((confidence, i) => ({ label: labels[i], confidence }))
      .sort((a, b) => b.confidence - a.confidence)
      .slice(0, 3);
    return { label: top[0].label, confidence: top[0].confidence, top, probabilities, ms };
  }

  return { classify, version: info.version, name: info.name };
}
