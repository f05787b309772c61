// Scene cuts and motion between frames (a port of fer/scene.py): the mean absolute difference of tiny grayscale
// thumbnails, made exactly as Pillow makes them (convert("L"), then resize(THUMB_SIZE, Image.BOX)).

import { BOX, resize } from "./resize.js";

export const THUMB_SIZE = [32, 18];
export const CUT_CHANGE = 18.0;
export const CUT_JUMP = 2.0;
export const MOTION_CHANGE = 6.0;
export const GRID = [8, 6];
export const NEW_FACE_CHANGE = 20.0;

/** Gray (Pillow's "L": ITU-R 601-2 luma in 16-bit fixed point) of RGBA pixels, as a Uint8Array. */
export function pillowGray(data, width, height) {
  const gray = new Uint8Array(width * height);
  for (let i = 0, j = 0; j < gray.length; i += 4, j++) {
    gray[j] = (data[i] * 19595 + data[i + 1] * 38470 + data[i + 2] * 7471 + 0x8000) >>> 16;
  }
  return gray;
}

/** The frame (ImageData) as a THUMB_SIZE grayscale thumbnail (fer.scene.thumbnail). */
export function thumbnail(frame, size = THUMB_SIZE) {
  const gray = pillowGray(frame.data, frame.width, frame.height);
  return resize({ data: gray, width: frame.width, height: frame.height, channels: 1 }, size[0], size[1], BOX);
}

/** How a frame differs from the one before (fer.scene.SceneChange). */
export class SceneChange {
  constructor(change, cut, motion, regions = null, grid = GRID) {
    this.change = change;
    this.cut = cut;
    this.motion = motion;
    this.regions = regions; // rows x columns of mean changes, row-major (null for a first frame)
    this.grid = grid;
  }

  /** Whether a region not touching any of `boxes` (with a margin of one region) changed by `threshold` or more. */
  changedOutside(boxes, width, height, threshold) {
    if (this.regions === null) return true;
    const [columns, rows] = this.grid;
    const away = new Uint8Array(rows * columns).fill(1);
    for (const [x1, y1, x2, y2] of boxes) {
      const left = Math.max(Math.trunc((x1 / width) * columns) - 1, 0);
      const right = Math.max(Math.ceil((x2 / width) * columns) + 1, 0);
      const top = Math.max(Math.trunc((y1 / height) * rows) - 1, 0);
      const bottom = Math.max(Math.ceil((y2 / height) * rows) + 1, 0);
      for (let r = top; r < Math.min(bottom, rows); r++) {
        for (let c = left; c < Math.min(right, columns); c++) away[r * columns + c] = 0;
      }
    }
    return this.regions.some((value, i) => away[i] && value >= threshold);
  }
}

/** `watch.update(frame)` -> SceneChange against the previous frame given (the first frame is a cut). */
export class SceneWatch {
  constructor({ cutChange = CUT_CHANGE, cutJump = CUT_JUMP, motion = MOTION_CHANGE, thumbSize = THUMB_SIZE, grid = GRID } = {}) {
    Object.assign(this, { cutChange, cutJump, motion, thumbSize, grid });
    this.reset();
  }

  update(frame) {
    const thumb = thumbnail(frame, this.thumbSize);
    const previous = this.thumb;
    this.thumb = thumb;
    if (previous === null) {
      this.previousChange = 0.0;
      return new SceneChange(Infinity, true, true, null, this.grid);
    }
    const [width, height] = this.thumbSize;
    const [columns, rows] = this.grid;
    const cellW = width / columns;
    const cellH = height / rows;
    const regions = new Float64Array(rows * columns);
    let total = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const d = Math.abs(thumb[y * width + x] - previous[y * width + x]);
        total += d;
        regions[Math.floor(y / cellH) * columns + Math.floor(x / cellW)] += d;
      }
    }
    for (let i = 0; i < regions.length; i++) regions[i] /= cellW * cellH;
    const change = total / (width * height);
    const cut = change >= this.cutChange && change >= this.cutJump * this.previousChange;
    this.previousChange = change;
    return new SceneChange(change, cut, change >= this.motion, Array.from(regions), this.grid);
  }

  reset() {
    this.thumb = null;
    this.previousChange = 0.0;
  }
}
