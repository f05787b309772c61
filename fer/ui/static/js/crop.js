// The one crop path (fer.preprocess.faces_batch) in the page: a square around each face box with the model's
// margin, grayscale (BT.601, float32, truncated), edge-padded past the frame's border, resized by Pillow's
// bilinear filter with reducing_gap 2, limited to the model's detail, normalised with its mean and std.

import { BILINEAR, resize, roundHalfEven } from "./resize.js";

const f32 = Math.fround;
const LUMA = [f32(0.299), f32(0.587), f32(0.114)];
const REDUCING_GAP = 2.0;

/**
 * What the classifier expects (the manifest's `classifier` section, fer.preprocess.InputSpec).
 * @typedef {{size: number, mean: number, std: number, margin: number, detail?: number | null}} InputSpec
 */

/**
 * fer.preprocess.square_box: a square around `box` enlarged by `margin` of its longer side, integer pixels.
 * @param {number[]} box (x1, y1, x2, y2)
 * @param {number} margin
 * @returns {number[]} (left, top, right, bottom)
 */
export function squareBox([x1, y1, x2, y2], margin) {
  const side = Math.max(x2 - x1, y2 - y1) * (1.0 + margin);
  const cx = (x1 + x2) / 2.0;
  const cy = (y1 + y2) / 2.0;
  const left = roundHalfEven(cx - side / 2.0);
  const top = roundHalfEven(cy - side / 2.0);
  const sidePx = Math.max(1, roundHalfEven(side));
  return [left, top, left + sidePx, top + sidePx];
}

/** Reused buffers: the square gray region, its resized copy, and limitDetail's products (zeroed when taken). */
const buffers = {
  square: new Uint8Array(0),
  crop: new Uint8Array(0),
  rows: new Float64Array(0),
  result: new Float64Array(0),
};

/**
 * @param {'square' | 'crop' | 'rows' | 'result'} name
 * @param {number} size
 */
function grown(name, size) {
  if (buffers[name].length < size) buffers[name] = new buffers[name].constructor(size);
  return buffers[name].subarray(0, size);
}

/**
 * fer.preprocess.face_crop of one box: the size x size uint8 gray crop.
 * @param {ImageData} frame
 * @param {number[]} box
 * @param {InputSpec} spec
 * @param {Uint8Array} [out]
 * @returns {Uint8Array}
 */
export function faceCrop(frame, box, spec, out = undefined) {
  const { data, width, height } = frame;
  const [left, top, right, bottom] = squareBox(box, spec.margin);
  const x1 = Math.max(left, 0);
  const y1 = Math.max(top, 0);
  const x2 = Math.min(right, width);
  const y2 = Math.min(bottom, height);
  if (x2 <= x1 || y2 <= y1) throw new Error(`Face box (${box.join(", ")}) lies outside the ${width}x${height} frame.`);
  const side = right - left;
  const square = grown("square", side * side);
  for (let y = 0; y < side; y++) {
    const row = Math.min(Math.max(top + y, y1), y2 - 1) * width;
    for (let x = 0; x < side; x++) {
      const at = (row + Math.min(Math.max(left + x, x1), x2 - 1)) * 4;
      const luma = f32(
        f32(f32(f32(data[at] * LUMA[0]) + f32(data[at + 1] * LUMA[1])) + f32(data[at + 2] * LUMA[2])) + 0.5,
      );
      square[y * side + x] = Math.trunc(luma);
    }
  }
  return resize(
    { data: square, width: side, height: side, channels: 1 },
    spec.size,
    spec.size,
    BILINEAR,
    REDUCING_GAP,
    out,
  );
}

/**
 * fer.preprocess.faces_batch: every box's crop, normalised, as one (N, 1, size, size) float32 batch.
 * @param {ImageData} frame
 * @param {number[][]} boxes
 * @param {InputSpec} spec
 * @param {Float32Array} [out] where to write, when long enough
 * @returns {Float32Array}
 */
export function faceInput(frame, boxes, spec, out = undefined) {
  const pixels = spec.size * spec.size;
  const size = boxes.length * pixels;
  const batch = out && out.length >= size ? out.subarray(0, size) : new Float32Array(size);
  const crop = grown("crop", pixels);
  const mean = f32(spec.mean);
  const std = f32(spec.std);
  const operator = spec.detail && spec.detail < spec.size ? detailOperator(spec.size, spec.detail) : null;
  boxes.forEach((box, k) => {
    faceCrop(frame, box, spec, crop);
    const face = batch.subarray(k * pixels, (k + 1) * pixels);
    for (let i = 0; i < pixels; i++) face[i] = f32(crop[i] / 255);
    if (operator) limitDetail(face, operator, spec.size);
    for (let i = 0; i < pixels; i++) face[i] = f32(f32(face[i] - mean) / std);
  });
  return batch;
}

const operators = new Map();

/**
 * fer.preprocess.detail_operator: the (size, size) matrix R, R[i][k] at i * size + k, with which R^T X R is X
 * resized to detail x detail (torch bilinear, antialiased) and back up to size x size (bilinear).
 * @param {number} size
 * @param {number} detail
 * @returns {Float64Array}
 */
function detailOperator(size, detail) {
  const key = `${size} ${detail}`;
  if (operators.has(key)) return operators.get(key);
  const down = new Float64Array(size * detail); // down[i * detail + j]: input i's weight in output j
  const scale = size / detail;
  const support = scale;
  for (let j = 0; j < detail; j++) {
    const center = scale * (j + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), size);
    let total = 0;
    const weights = [];
    for (let i = xmin; i < xmax; i++) {
      const w = Math.max(0, 1 - Math.abs((i - center + 0.5) / scale));
      weights.push(w);
      total += w;
    }
    weights.forEach((w, n) => (down[(xmin + n) * detail + j] = total ? w / total : w));
  }
  const up = new Float64Array(detail * size); // up[j * size + k]: input j's weight in output k
  for (let k = 0; k < size; k++) {
    const source = Math.max((detail / size) * (k + 0.5) - 0.5, 0);
    const j0 = Math.trunc(source);
    const j1 = j0 < detail - 1 ? j0 + 1 : j0;
    const lambda = source - j0;
    up[j0 * size + k] += 1 - lambda;
    up[j1 * size + k] += lambda;
  }
  const operator = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < detail; j++) {
      const d = down[i * detail + j];
      if (d) for (let k = 0; k < size; k++) operator[i * size + k] += d * up[j * size + k];
    }
  }
  operators.set(key, operator);
  return operator;
}

/**
 * fer.preprocess.limit_detail of one square float crop, in place: R^T X R.
 * @param {Float32Array} face
 * @param {Float64Array} operator
 * @param {number} size
 */
function limitDetail(face, operator, size) {
  const rows = grown("rows", size * size).fill(0); // X R
  for (let i = 0; i < size; i++) {
    for (let k = 0; k < size; k++) {
      const x = face[i * size + k];
      if (x) for (let b = 0; b < size; b++) rows[i * size + b] += x * operator[k * size + b];
    }
  }
  const result = grown("result", size * size).fill(0);
  for (let i = 0; i < size; i++) {
    for (let a = 0; a < size; a++) {
      const r = operator[i * size + a];
      if (r) for (let b = 0; b < size; b++) result[a * size + b] += r * rows[i * size + b];
    }
  }
  for (let i = 0; i < size * size; i++) face[i] = f32(result[i]);
}
