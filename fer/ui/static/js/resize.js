// Resampling exactly as the server does it: Pillow's `Image.resize` (fixed-point separable convolution, with its
// integer `reduce` first when `reducing_gap` is given) on uint8 images, and torch's `interpolate(mode="area")`
// (adaptive average pooling in float32) for MTCNN's image pyramid and candidate crops.

const PRECISION_BITS = 22; // Pillow's Resample.c: 32 - 8 - 2
const HALF = 1 << (PRECISION_BITS - 1);
const f32 = Math.fround;

/**
 * A Pillow resampling filter: its kernel and its support (in input pixels at scale 1).
 * @typedef {{kernel: (x: number) => number, support: number}} Filter
 */

/** @type {Filter} */
export const BILINEAR = { kernel: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0), support: 1 };
/** @type {Filter} */
export const BOX = { kernel: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0), support: 0.5 };

/**
 * An interleaved uint8 image: `channels` bytes per pixel, row after row (an ImageData's data has 4).
 * @typedef {{data: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: number}} Bitmap
 */

/**
 * Pillow's `image.resize((width, height), filter, reducing_gap=reducingGap)` of a whole image: a gray image (1
 * channel), or the RGB of an RGBA one (4 channels; the output's 4th channel is left unspecified).
 * @param {Bitmap} image
 * @param {number} width
 * @param {number} height
 * @param {Filter} filter
 * @param {number | null} reducingGap
 * @param {Uint8Array} [out] where to write (`width * height * channels` bytes); a new array when absent
 * @returns {Uint8Array}
 */
export function resize(image, width, height, filter, reducingGap = null, out = undefined) {
  const size = width * height * image.channels;
  const target = out && out.length >= size ? out.subarray(0, size) : new Uint8Array(size);
  if (width === image.width && height === image.height) {
    target.set(image.data.subarray(0, size));
    return target;
  }
  let source = image;
  let boxRight = image.width;
  let boxBottom = image.height;
  if (reducingGap !== null) {
    // Image.resize: reduce by whole factors first, so that the convolution shrinks by less than `reducingGap`
    const factorX = Math.trunc(image.width / width / reducingGap) || 1;
    const factorY = Math.trunc(image.height / height / reducingGap) || 1;
    if (factorX > 1 || factorY > 1) {
      source = reduce(image, factorX, factorY);
      boxRight = image.width / factorX;
      boxBottom = image.height / factorY;
    }
  }
  return resample(source, width, height, filter, f32(boxRight), f32(boxBottom), target);
}

/** Reused scratch buffers, grown as needed (one per purpose). */
const scratch = { reduced: new Uint8Array(0), horizontal: new Uint8Array(0), spans: new Int32Array(0) };

/**
 * @param {'reduced' | 'horizontal' | 'spans'} name
 * @param {number} size
 * @returns {Uint8Array | Int32Array}
 */
function scratchBuffer(name, size) {
  if (scratch[name].length < size) scratch[name] = new scratch[name].constructor(size);
  return scratch[name].subarray(0, size);
}

/**
 * Pillow's ImagingReduce of a whole image: each output pixel the rounded mean of a factorX x factorY block (the
 * last row and column of blocks cut short), with Reduce.c's fixed-point division.
 * @param {Bitmap} image
 * @param {number} factorX
 * @param {number} factorY
 * @returns {Bitmap}
 */
function reduce(image, factorX, factorY) {
  const { data, width, height, channels } = image;
  const outWidth = Math.ceil(width / factorX);
  const outHeight = Math.ceil(height / factorY);
  const out = scratchBuffer("reduced", outWidth * outHeight * channels);
  const sums = new Float64Array(channels);
  for (let y = 0; y < outHeight; y++) {
    const y0 = y * factorY;
    const y1 = Math.min(y0 + factorY, height);
    for (let x = 0; x < outWidth; x++) {
      const x0 = x * factorX;
      const x1 = Math.min(x0 + factorX, width);
      const count = (x1 - x0) * (y1 - y0);
      // division_UINT32: 2^32 / (256 * count) in float32, truncated
      const multiplier = Math.trunc(f32(4294967296 / (256 * count)));
      sums.fill(count >> 1);
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const at = (yy * width + xx) * channels;
          for (let c = 0; c < channels; c++) sums[c] += data[at + c];
        }
      }
      const at = (y * outWidth + x) * channels;
      for (let c = 0; c < channels; c++) out[at + c] = Math.floor((sums[c] * multiplier) / 16777216);
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels };
}

/**
 * Resample.c's precompute_coeffs + normalize_coeffs_8bpc: for each output pixel, its first input pixel, how
 * many it reads, and their fixed-point weights.
 * @param {number} inSize
 * @param {number} inEnd the box's far edge (float32), the near one being 0
 * @param {number} outSize
 * @param {Filter} filter
 * @returns {{bounds: Int32Array, weights: Int32Array, taps: number}}
 */
function coefficients(inSize, inEnd, outSize, filter) {
  const scale = inEnd / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * taps);
  const kernel = new Float64Array(taps);
  const inverse = 1.0 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < count; x++) {
      kernel[x] = filter.kernel((x + xmin - center + 0.5) * inverse);
      total += kernel[x];
    }
    for (let x = 0; x < count; x++) {
      const w = total !== 0 ? kernel[x] / total : kernel[x];
      weights[xx * taps + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { bounds, weights, taps };
}

/** Coefficients by (inSize, inEnd, outSize, filter): frames and crops come in few sizes. */
const coefficientCache = new Map();
const COEFFICIENT_CACHE_SIZE = 256;

/**
 * @param {number} inSize
 * @param {number} inEnd
 * @param {number} outSize
 * @param {Filter} filter
 */
function cachedCoefficients(inSize, inEnd, outSize, filter) {
  const key = `${inSize} ${inEnd} ${outSize} ${filter.support}`;
  let found = coefficientCache.get(key);
  if (!found) {
    if (coefficientCache.size >= COEFFICIENT_CACHE_SIZE) coefficientCache.clear();
    found = coefficients(inSize, inEnd, outSize, filter);
    coefficientCache.set(key, found);
  }
  return found;
}

/**
 * @param {number} sum
 * @returns {number} Resample.c's clip8 of a fixed-point sum
 */
function clip8(sum) {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/**
 * Resample.c's ImagingResampleInner on the box (0, 0, boxRight, boxBottom): a horizontal pass over the rows the
 * vertical pass reads, then the vertical pass.
 * @param {Bitmap} image
 * @param {number} width
 * @param {number} height
 * @param {Filter} filter
 * @param {number} boxRight
 * @param {number} boxBottom
 * @param {Uint8Array} out
 * @returns {Uint8Array}
 */
function resample(image, width, height, filter, boxRight, boxBottom, out) {
  const needHorizontal = width !== image.width || boxRight !== width;
  const needVertical = height !== image.height || boxBottom !== height;
  const vertical = cachedCoefficients(image.height, boxBottom, height, filter);
  const firstRow = vertical.bounds[0];
  const lastRow = vertical.bounds[height * 2 - 2] + vertical.bounds[height * 2 - 1];
  let source = image;
  let rowOffset = 0;
  if (needHorizontal) {
    const rows = lastRow - firstRow;
    const target = needVertical ? scratchBuffer("horizontal", width * rows * image.channels) : out;
    horizontalPass(image, firstRow, rows, cachedCoefficients(image.width, boxRight, width, filter), width, target);
    if (!needVertical) return out;
    source = { data: target, width, height: rows, channels: image.channels };
    rowOffset = firstRow;
  }
  if (!needVertical) {
    out.set(image.data.subarray(0, out.length));
    return out;
  }
  verticalPass(source, rowOffset, vertical, height, out);
  return out;
}

/**
 * Resample.c's ImagingResampleHorizontal_8bpc on `rows` rows from `firstRow`. Of 4 channels (RGBA), the first 3
 * are resampled and the 4th is left unwritten (the page never reads it).
 * @param {Bitmap} image
 * @param {number} firstRow
 * @param {number} rows
 * @param {{bounds: Int32Array, weights: Int32Array, taps: number}} coefficients
 * @param {number} width
 * @param {Uint8Array} out
 */
function horizontalPass(image, firstRow, rows, { bounds, weights, taps }, width, out) {
  const { data, channels } = image;
  for (let yy = 0; yy < rows; yy++) {
    const row = (yy + firstRow) * image.width;
    for (let xx = 0; xx < width; xx++) {
      const start = (row + bounds[xx * 2]) * channels;
      const count = bounds[xx * 2 + 1];
      const k = xx * taps;
      const at = (yy * width + xx) * channels;
      if (channels === 1) {
        let sum = HALF;
        for (let x = 0; x < count; x++) sum += data[start + x] * weights[k + x];
        out[at] = clip8(sum);
      } else {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0, i = start; x < count; x++, i += channels) {
          const w = weights[k + x];
          s0 += data[i] * w;
          s1 += data[i + 1] * w;
          s2 += data[i + 2] * w;
        }
        out[at] = clip8(s0);
        out[at + 1] = clip8(s1);
        out[at + 2] = clip8(s2);
      }
    }
  }
}

/**
 * Resample.c's ImagingResampleVertical_8bpc, an output row at a time, each byte's fixed-point sum kept in a local
 * (4 taps unrolled: a 2x bilinear shrink, the webcam frame's); the source's row 0 is the image's row `rowOffset`.
 * @param {Bitmap} source
 * @param {number} rowOffset
 * @param {{bounds: Int32Array, weights: Int32Array, taps: number}} coefficients
 * @param {number} height
 * @param {Uint8Array} out
 */
function verticalPass(source, rowOffset, { bounds, weights, taps }, height, out) {
  const { data, width, channels } = source;
  const stride = width * channels;
  for (let yy = 0; yy < height; yy++) {
    const start = (bounds[yy * 2] - rowOffset) * stride;
    const count = bounds[yy * 2 + 1];
    const k = yy * taps;
    const at = yy * stride;
    if (count === 4) {
      const [w0, w1, w2, w3] = [weights[k], weights[k + 1], weights[k + 2], weights[k + 3]];
      const [r1, r2, r3] = [start + stride, start + 2 * stride, start + 3 * stride];
      for (let i = 0; i < stride; i++) {
        out[at + i] = clip8(HALF + data[start + i] * w0 + data[r1 + i] * w1 + data[r2 + i] * w2 + data[r3 + i] * w3);
      }
    } else {
      for (let i = 0; i < stride; i++) {
        let sum = HALF;
        for (let y = 0, from = start + i; y < count; y++, from += stride) sum += data[from] * weights[k + y];
        out[at + i] = clip8(sum);
      }
    }
  }
}

/**
 * The summed-area table of an interleaved uint8 image's first 3 channels, for `areaResample`: entry
 * ((y * (width + 1) + x) * 3 + c) is the sum of channel c over rows [0, y) and columns [0, x). Sums of integers
 * (below 2^53), so every area cut from it is exact: the same number as adding its pixels one by one.
 * @param {Bitmap} image
 * @param {Float64Array} [out] where to write (`summedAreaSize(image)` entries); a new array when absent
 * @returns {SummedArea}
 */
export function summedArea(image, out = undefined) {
  const { data, width, height, channels } = image;
  const stride = (width + 1) * 3;
  const size = summedAreaSize(image);
  const sums = out && out.length >= size ? out : new Float64Array(size);
  sums.fill(0, 0, stride);
  for (let y = 0; y < height; y++) {
    const at = (y + 1) * stride;
    sums[at] = sums[at + 1] = sums[at + 2] = 0;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let x = 0, i = y * width * channels, k = at + 3; x < width; x++, i += channels, k += 3) {
      r += data[i];
      g += data[i + 1];
      b += data[i + 2];
      sums[k] = sums[k - stride] + r;
      sums[k + 1] = sums[k + 1 - stride] + g;
      sums[k + 2] = sums[k + 2 - stride] + b;
    }
  }
  return { sums, width, height };
}

/**
 * @param {{width: number, height: number}} image
 * @returns {number} the entries of `image`'s summed-area table
 */
export function summedAreaSize({ width, height }) {
  return (width + 1) * (height + 1) * 3;
}

/**
 * An image's summed-area table (`summedArea`) and the image's size.
 * @typedef {{sums: Float64Array, width: number, height: number}} SummedArea
 */

/**
 * torch's `interpolate(x, (outHeight, outWidth), mode="area")` of a region of an interleaved uint8 image taken
 * as float: output pixel j averages input pixels [floor(j * in / out), ceil((j + 1) * in / out)) on each axis,
 * divided by the rows then the columns in float32, as ATen's adaptive average pooling does (the sums, of
 * integers, are exact in any order: here four corners of the image's summed-area table). Writes the 3 channels
 * as float planes (R, G, B) at `offset` of `out`.
 * @param {SummedArea} area `summedArea(image)`
 * @param {{x: number, y: number, width: number, height: number}} region
 * @param {number} outWidth
 * @param {number} outHeight
 * @param {Float32Array} out
 * @param {number} offset
 */
export function areaResample(area, region, outWidth, outHeight, out, offset) {
  const { sums } = area;
  const stride = (area.width + 1) * 3;
  const planeSize = outWidth * outHeight;
  const spans = scratchBuffer("spans", outWidth * 2);
  for (let ox = 0; ox < outWidth; ox++) {
    spans[ox * 2] = region.x + Math.floor((ox * region.width) / outWidth);
    spans[ox * 2 + 1] = region.x + Math.floor(((ox + 1) * region.width + outWidth - 1) / outWidth);
  }
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = region.y + Math.floor((oy * region.height) / outHeight);
    const y1 = region.y + Math.floor(((oy + 1) * region.height + outHeight - 1) / outHeight);
    const rows = y1 - y0;
    const top = y0 * stride;
    const bottom = y1 * stride;
    for (let ox = 0; ox < outWidth; ox++) {
      const left = spans[ox * 2] * 3;
      const right = spans[ox * 2 + 1] * 3;
      const columns = spans[ox * 2 + 1] - spans[ox * 2];
      const at = offset + oy * outWidth + ox;
      for (let c = 0; c < 3; c++) {
        const sum = sums[bottom + right + c] - sums[top + right + c] - sums[bottom + left + c] + sums[top + left + c];
        out[at + c * planeSize] = f32(f32(sum / rows) / columns);
      }
    }
  }
}

/**
 * Python's round(): halves go to the even neighbour.
 * @param {number} v
 * @returns {number}
 */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
