// MTCNN in the page: facenet-pytorch's detect_face step by step (image pyramid, P-Net, R-Net, O-Net, their
// NMS and box regressions, in float32 as torch computes them) on the ONNX files the server runs, wrapped as
// fer.detect.FaceDetector wraps it (downscaled copy, boxes mapped back, weak faces dropped, biggest first).

import { BILINEAR, BOX, areaResample, resize, roundHalfEven, summedArea, summedAreaSize } from "./resize.js";
import { serially } from "./serial.js";

const f32 = Math.fround;
const NORM_SHIFT = 127.5; // MTCNN's input: (x - 127.5) * 0.0078125
const NORM_SCALE = 0.0078125;
const PNET_STRIDE = 2;
const PNET_CELL = 12;
const RNET_SIZE = 24;
const ONET_SIZE = 48;
const SCALE_NMS = 0.5; // P-Net: NMS within each pyramid scale, then across scales
const STAGE_NMS = 0.7;

/**
 * The detector's settings, as fer.detect.DetectorOptions (sizes in pixels of the frame); the defaults are
 * WEBCAM_OPTIONS and REFINE_PASSES.
 * @typedef {{minFaceSize: number, thresholds: number[], factor: number, maxSide: number | null,
 *   minScore: number, refinePasses: number}} DetectorOptions
 */
const DEFAULTS = {
  minFaceSize: 40,
  thresholds: [0.6, 0.7, 0.7],
  factor: 0.709,
  maxSide: 320,
  minScore: 0.9,
  refinePasses: 2,
};

/**
 * A face in the frame's pixels.
 * @typedef {{box: number[], score: number, landmarks: number[][]}} Face
 */

/**
 * A candidate box of detect_face: corners, score, and the regression (or landmarks) that goes with it.
 * @typedef {{x1: number, y1: number, x2: number, y2: number, score: number, shift: number[],
 *   marks?: number[][]}} Candidate
 */

/**
 * The detector: `detect` finds every face of a frame, `refine` moves known boxes onto the faces near them with
 * O-Net alone (fer.detect.FaceDetector.detect / refine). Calls run one at a time, in call order.
 * @param {any} ort the onnxruntime-web module
 * @param {{pnet: string, rnet: string, onet: string}} urls the networks' ONNX files
 * @param {Partial<DetectorOptions>} [options]
 * @returns {Promise<{detect: (frame: ImageData) => Promise<Face[]>,
 *   refine: (frame: ImageData, boxes: number[][], passes?: number) => Promise<Face[]>}>}
 */
export async function createDetector(ort, urls, options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const open = (url) =>
    ort.InferenceSession.create(url, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const [pnet, rnet, onet] = await Promise.all([open(urls.pnet), open(urls.rnet), open(urls.onet)]);
  const buffers = {
    small: new Uint8Array(0),
    input: new Float32Array(0),
    area: new Float64Array(0),
    crop: new Uint8Array(0),
    resized: new Uint8Array(0),
  };
  const grown = (name, size) => {
    if (buffers[name].length < size) buffers[name] = new buffers[name].constructor(size);
    return buffers[name].subarray(0, size);
  };
  const run = async (session, data, dims) => session.run({ input: new ort.Tensor("float32", data, dims) });

  /**
   * facenet-pytorch's detect_face on one RGBA image.
   * @param {import('./resize.js').Bitmap} image
   * @param {number} minSize the smallest face, in this image's pixels
   * @returns {Promise<Candidate[]>}
   */
  async function detectFace(image, minSize) {
    const { width, height } = image;
    const [t1, t2, t3] = settings.thresholds.map(f32);
    // every resampling below (pyramid, candidate crops) reads it
    const area = summedArea(image, grown("area", summedAreaSize(image)));
    let candidates = [];
    for (const scale of pyramid(width, height, minSize, settings.factor)) {
      const h = Math.trunc(height * scale + 1);
      const w = Math.trunc(width * scale + 1);
      const input = grown("input", 3 * h * w);
      areaResample(area, { x: 0, y: 0, width, height }, w, h, input, 0);
      normalise(input);
      const out = await run(pnet, input, [1, 3, h, w]);
      const found = cells(out.box_shift, out.probability, scale, t1);
      candidates.push(...nms(found, SCALE_NMS).map((i) => found[i]));
    }
    candidates = nms(candidates, STAGE_NMS).map((i) => candidates[i]);
    for (const c of candidates) {
      // P-Net's regression scales by the side without the +1 of bbreg
      const w = f32(c.x2 - c.x1);
      const h = f32(c.y2 - c.y1);
      [c.x1, c.y1, c.x2, c.y2] = [
        f32(c.x1 + f32(c.shift[0] * w)),
        f32(c.y1 + f32(c.shift[1] * h)),
        f32(c.x2 + f32(c.shift[2] * w)),
        f32(c.y2 + f32(c.shift[3] * h)),
      ];
      square(c);
    }
    candidates = candidates.filter((c) => inside(c, width, height));
    if (!candidates.length) return [];

    let out = await crops(area, candidates, RNET_SIZE, rnet);
    candidates = scored(candidates, out, t2);
    candidates = nms(candidates, STAGE_NMS).map((i) => candidates[i]);
    for (const c of candidates) {
      regress(c);
      square(c);
    }
    candidates = candidates.filter((c) => inside(c, width, height));
    if (!candidates.length) return [];

    out = await crops(area, candidates, ONET_SIZE, onet);
    const marks = out.landmarks.data;
    const kept = scored(candidates, out, t3, (c, i) => {
      const w = f32(f32(c.x2 - c.x1) + 1);
      const h = f32(f32(c.y2 - c.y1) + 1);
      c.marks = [0, 1, 2, 3, 4].map((k) => [
        f32(f32(f32(w * marks[i * 10 + k]) + c.x1) - 1),
        f32(f32(f32(h * marks[i * 10 + 5 + k]) + c.y1) - 1),
      ]);
    });
    kept.forEach(regress);
    return nmsMin(kept, STAGE_NMS).map((i) => kept[i]);
  }

  /**
   * The candidates' squares (clipped, integer pixels, as detect_face's pad) resampled to side x side and
   * normalised in one batch, run through `session`.
   * @param {import('./resize.js').SummedArea} area the image's summed-area table
   * @param {Candidate[]} candidates
   * @param {number} side
   * @param {any} session
   */
  async function crops(area, candidates, side, session) {
    const plane = 3 * side * side;
    const input = grown("input", candidates.length * plane);
    candidates.forEach((c, k) => {
      const region = padded(c, area.width, area.height);
      areaResample(area, region, side, side, input, k * plane);
    });
    normalise(input);
    return run(session, input, [candidates.length, 3, side, side]);
  }

  /**
   * @param {ImageData} frame
   * @returns {Promise<Face[]>}
   */
  async function detect(frame) {
    const { width, height } = frame;
    const longest = Math.max(width, height);
    const scale = settings.maxSide === null || longest <= settings.maxSide ? 1 : settings.maxSide / longest;
    /** @type {import('./resize.js').Bitmap} */
    let image = { data: frame.data, width, height, channels: 4 };
    if (scale < 1) {
      const w = Math.max(1, roundHalfEven(width * scale));
      const h = Math.max(1, roundHalfEven(height * scale));
      image = { data: resize(image, w, h, BILINEAR, 2.0, grown("small", w * h * 4)), width: w, height: h, channels: 4 };
    }
    const minSize = Math.max(12, Math.trunc(settings.minFaceSize * scale));
    const minScore = f32(settings.minScore);
    const inverse = f32(scale);
    const faces = [];
    for (const c of await detectFace(image, minSize)) {
      if (c.score < minScore) continue;
      const [x1, y1, x2, y2] = [c.x1, c.y1, c.x2, c.y2].map((v) => f32(v / inverse));
      if (Math.min(width, x2) <= Math.max(0, x1) || Math.min(height, y2) <= Math.max(0, y1)) continue;
      faces.push({
        box: [x1, y1, x2, y2],
        score: c.score,
        landmarks: c.marks.map(([x, y]) => [f32(x / inverse), f32(y / inverse)]),
      });
    }
    const area = (face) => (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]);
    return faces.sort((a, b) => area(b) - area(a));
  }

  /**
   * fer.detect.FaceDetector.refine: each box squared, cropped (Pillow, black past the border), resized to 48 x 48
   * (Image.BOX) and moved by O-Net's regression, `passes` times; O-Net's score and landmarks go with it.
   * @param {ImageData} frame
   * @param {number[][]} boxes
   * @param {number} [passes]
   * @returns {Promise<Face[]>}
   */
  async function refine(frame, boxes, passes = settings.refinePasses) {
    if (!boxes.length) return [];
    const image = { data: frame.data, width: frame.width, height: frame.height, channels: 4 };
    const plane = 3 * ONET_SIZE * ONET_SIZE;
    const input = grown("input", boxes.length * plane);
    // numpy: the boxes are float32 on the first pass and float64 after (an int64 square plus a float32 shift)
    let current = boxes.map((box) => box.map(f32));
    let faces = [];
    for (let pass = 0; pass < passes; pass++) {
      const round = pass === 0 ? f32 : (v) => v;
      const squares = current.map((box) => squared(box, round).map(Math.trunc));
      squares.forEach((sq, k) => cropBox(image, sq, input, k * plane));
      const out = await run(onet, input, [boxes.length, 3, ONET_SIZE, ONET_SIZE]);
      const shift = out.box_shift.data;
      const marks = out.landmarks.data;
      const probability = out.probability.data;
      faces = squares.map(([x1, y1, x2, y2], k) => {
        const w = x2 - x1 + 1;
        const h = y2 - y1 + 1;
        const size = [w, h, w, h];
        const box = [x1, y1, x2, y2].map((v, i) => v + f32(shift[k * 4 + i] * size[i]));
        const landmarks = [0, 1, 2, 3, 4].map((i) => [
          f32(marks[k * 10 + i] * w) + x1 - 1,
          f32(marks[k * 10 + 5 + i] * h) + y1 - 1,
        ]);
        return { box, score: probability[k * 2 + 1], landmarks };
      });
      current = faces.map((face) => face.box);
    }
    return faces;
  }

  /**
   * Pillow's `image.crop((x1 - 1, y1 - 1, x2, y2)).resize((48, 48), Image.BOX)`, normalised as planes.
   * @param {import('./resize.js').Bitmap} image
   * @param {number[]} sq integer square (x1, y1, x2, y2)
   * @param {Float32Array} out
   * @param {number} offset
   */
  function cropBox(image, [x1, y1, x2, y2], out, offset) {
    const width = x2 - x1 + 1;
    const height = y2 - y1 + 1;
    const crop = grown("crop", width * height * 4);
    crop.fill(0);
    for (let y = Math.max(0, 1 - y1); y < Math.min(height, image.height - y1 + 1); y++) {
      const from = ((y1 - 1 + y) * image.width + x1 - 1) * 4;
      const left = Math.max(0, 1 - x1);
      const right = Math.min(width, image.width - x1 + 1);
      if (right > left) crop.set(image.data.subarray(from + left * 4, from + right * 4), (y * width + left) * 4);
    }
    const small = resize(
      { data: crop, width, height, channels: 4 },
      ONET_SIZE,
      ONET_SIZE,
      BOX,
      null,
      grown("resized", ONET_SIZE * ONET_SIZE * 4),
    );
    const planeSize = ONET_SIZE * ONET_SIZE;
    for (let i = 0; i < planeSize; i++) {
      for (let c = 0; c < 3; c++) out[offset + c * planeSize + i] = (small[i * 4 + c] - NORM_SHIFT) * NORM_SCALE;
    }
  }

  return { detect: serially(detect), refine: serially(refine) };
}

/**
 * detect_face's pyramid: scales from 12 / minSize down by `factor` while the shorter side stays >= 12 px.
 * @param {number} width
 * @param {number} height
 * @param {number} minSize
 * @param {number} factor
 * @returns {number[]}
 */
function pyramid(width, height, minSize, factor) {
  const m = 12.0 / minSize;
  const scales = [];
  let scale = m;
  let side = Math.min(width, height) * m;
  while (side >= 12) {
    scales.push(scale);
    scale *= factor;
    side *= factor;
  }
  return scales;
}

/**
 * MTCNN's input normalisation, in place (float32).
 * @param {Float32Array} data
 */
function normalise(data) {
  for (let i = 0; i < data.length; i++) data[i] = (data[i] - NORM_SHIFT) * NORM_SCALE;
}

/**
 * detect_face's generateBoundingBox: every P-Net cell whose face probability reaches `threshold`, as a box in
 * the image's pixels, in row-major order.
 * @param {any} shift box_shift (1, 4, h, w)
 * @param {any} probability (1, 2, h, w)
 * @param {number} scale
 * @param {number} threshold
 * @returns {Candidate[]}
 */
function cells(shift, probability, scale, threshold) {
  const [, , h, w] = probability.dims;
  const plane = h * w;
  const p = probability.data;
  const s = shift.data;
  const divisor = f32(scale);
  const found = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const score = p[plane + i];
      if (score < threshold) continue;
      found.push({
        x1: Math.floor(f32((PNET_STRIDE * x + 1) / divisor)),
        y1: Math.floor(f32((PNET_STRIDE * y + 1) / divisor)),
        x2: Math.floor(f32((PNET_STRIDE * x + PNET_CELL) / divisor)),
        y2: Math.floor(f32((PNET_STRIDE * y + PNET_CELL) / divisor)),
        score,
        shift: [s[i], s[plane + i], s[2 * plane + i], s[3 * plane + i]],
      });
    }
  }
  return found;
}

/**
 * The candidates whose stage score passes `threshold`, with that score and the stage's regression; `extra` sees
 * each kept candidate with its row in the batch.
 * @param {Candidate[]} candidates
 * @param {Record<string, any>} out the stage's outputs (box_shift (N, 4), probability (N, 2))
 * @param {number} threshold
 * @param {(c: Candidate, row: number) => void} [extra]
 * @returns {Candidate[]}
 */
function scored(candidates, out, threshold, extra) {
  const shift = out.box_shift.data;
  const probability = out.probability.data;
  const kept = [];
  candidates.forEach((c, i) => {
    const score = probability[i * 2 + 1];
    if (!(score > threshold)) return;
    const next = {
      x1: c.x1,
      y1: c.y1,
      x2: c.x2,
      y2: c.y2,
      score,
      shift: [shift[i * 4], shift[i * 4 + 1], shift[i * 4 + 2], shift[i * 4 + 3]],
    };
    extra?.(next, i);
    kept.push(next);
  });
  return kept;
}

/**
 * detect_face's bbreg, in place.
 * @param {Candidate} c
 */
function regress(c) {
  const w = f32(f32(c.x2 - c.x1) + 1);
  const h = f32(f32(c.y2 - c.y1) + 1);
  [c.x1, c.y1, c.x2, c.y2] = [
    f32(c.x1 + f32(c.shift[0] * w)),
    f32(c.y1 + f32(c.shift[1] * h)),
    f32(c.x2 + f32(c.shift[2] * w)),
    f32(c.y2 + f32(c.shift[3] * h)),
  ];
}

/**
 * detect_face's rerec, in place: the box made square around its centre, side the longer side.
 * @param {Candidate} c
 */
function square(c) {
  const h = f32(c.y2 - c.y1);
  const w = f32(c.x2 - c.x1);
  const side = Math.max(w, h);
  c.x1 = f32(f32(c.x1 + f32(w * 0.5)) - f32(side * 0.5));
  c.y1 = f32(f32(c.y1 + f32(h * 0.5)) - f32(side * 0.5));
  c.x2 = f32(c.x1 + side);
  c.y2 = f32(c.y1 + side);
}

/**
 * fer.detect.squared, each step rounded by `round` (float32 or float64, as numpy computes it).
 * @param {number[]} box
 * @param {(v: number) => number} round
 * @returns {number[]}
 */
function squared([x1, y1, x2, y2], round) {
  const side = Math.max(round(x2 - x1), round(y2 - y1));
  const cx = round(round(x1 + x2) / 2);
  const cy = round(round(y1 + y2) / 2);
  const half = round(side / 2);
  return [round(cx - half), round(cy - half), round(cx + half), round(cy + half)];
}

/**
 * detect_face's pad: the candidate's pixels (1-based inclusive corners, truncated, clipped) as a 0-based region.
 * @param {Candidate} c
 * @param {number} width
 * @param {number} height
 */
function padded(c, width, height) {
  const x = Math.max(1, Math.trunc(c.x1));
  const y = Math.max(1, Math.trunc(c.y1));
  const ex = Math.min(width, Math.trunc(c.x2));
  const ey = Math.min(height, Math.trunc(c.y2));
  return { x: x - 1, y: y - 1, width: ex - x + 1, height: ey - y + 1 };
}

/**
 * Whether detect_face crops the candidate (its padded region is not empty); facenet-pytorch fails on one it
 * cannot crop, the page drops it.
 * @param {Candidate} c
 * @param {number} width
 * @param {number} height
 */
function inside(c, width, height) {
  const region = padded(c, width, height);
  return region.width > 0 && region.height > 0;
}

/**
 * torchvision's nms: candidate indices by descending score (stable), each dropping the later ones it overlaps
 * with an IoU above `threshold` (areas without +1), float32.
 * @param {Candidate[]} boxes
 * @param {number} threshold
 * @returns {number[]}
 */
function nms(boxes, threshold) {
  const order = boxes.map((_, i) => i).sort((a, b) => boxes[b].score - boxes[a].score || a - b);
  const areas = boxes.map((b) => f32(f32(b.x2 - b.x1) * f32(b.y2 - b.y1)));
  const suppressed = new Uint8Array(boxes.length);
  const keep = [];
  for (let m = 0; m < order.length; m++) {
    const i = order[m];
    if (suppressed[i]) continue;
    keep.push(i);
    const a = boxes[i];
    for (let n = m + 1; n < order.length; n++) {
      const j = order[n];
      if (suppressed[j]) continue;
      const b = boxes[j];
      const w = Math.max(0, f32(Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1)));
      const h = Math.max(0, f32(Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1)));
      const inter = f32(w * h);
      if (f32(inter / f32(f32(areas[i] + areas[j]) - inter)) > threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

/**
 * detect_face's nms_numpy with the 'Min' overlap (intersection over the smaller box, areas with +1), float32:
 * the highest score first, dropping every box that overlaps it by more than `threshold`.
 * @param {Candidate[]} boxes
 * @param {number} threshold
 * @returns {number[]}
 */
function nmsMin(boxes, threshold) {
  const limit = f32(threshold);
  const areas = boxes.map((b) => f32(f32(f32(b.x2 - b.x1) + 1) * f32(f32(b.y2 - b.y1) + 1)));
  let order = boxes.map((_, i) => i).sort((a, b) => boxes[a].score - boxes[b].score || a - b);
  const keep = [];
  while (order.length) {
    const i = order[order.length - 1];
    keep.push(i);
    const a = boxes[i];
    order = order.slice(0, -1).filter((j) => {
      const b = boxes[j];
      const w = Math.max(0, f32(f32(Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1)) + 1));
      const h = Math.max(0, f32(f32(Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1)) + 1));
      const inter = f32(w * h);
      return f32(inter / Math.min(areas[i], areas[j])) <= limit;
    });
  }
  return keep;
}
