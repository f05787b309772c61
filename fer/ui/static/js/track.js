// Frame-by-frame processing in the page: a faithful port of fer/stream.py (StreamProcessor) and fer/tracking.py
// (FaceTracker), with fer/scene.py's SceneWatch (scene.js). Detect now and then, follow faces in between with
// O-Net, classify the faces due (a new one, a followed one every `classifyEvery` frames) in one batch, keep ids,
// smooth probabilities per face, restart ids on a scene cut.
//
// Faces are {box: [x1, y1, x2, y2], score, landmarks} in frame pixels (mtcnn.js); a prediction adds
// {emotion, probabilities: Float64Array in `labels` order}.

import { MOTION_CHANGE, NEW_FACE_CHANGE, SceneWatch } from "./scene.js";

export const DETECT_EVERY = 3;
export const CLASSIFY_EVERY = 2;
export const FPS_WINDOW = 15;
export const STALE_S = 2.0;
export const KEEP_SCORE = 0.9;
export const NEW_SCORE = 0.95;
export const SMOOTHING_WINDOW = 5;
export const IOU_MATCH = 0.3;
export const MAX_MISSING = 10;

/** fer.stream.TrackingOptions' defaults (the manifest's `tracking` overrides them). */
export const TRACKING_DEFAULTS = {
  detectEvery: DETECT_EVERY,
  follow: true,
  keepScore: KEEP_SCORE,
  newScore: NEW_SCORE,
  followPasses: 1,
  motion: MOTION_CHANGE,
  newFace: NEW_FACE_CHANGE,
  scene: true,
  maxMissing: 0,
  classifyEvery: CLASSIFY_EVERY,
  fpsWindow: FPS_WINDOW,
  staleS: STALE_S,
  smoothingWindow: SMOOTHING_WINDOW,
  iouMatch: IOU_MATCH,
};

export function iou(a, b) {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[2], b[2]);
  const y2 = Math.min(a[3], b[3]);
  const inter = Math.max(0.0, x2 - x1) * Math.max(0.0, y2 - y1);
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0.0;
}

/** The faces that overlap none of `others` by `overlap` IoU or more. */
export function unmatched(faces, others, overlap = IOU_MATCH) {
  return faces.filter((face) => others.every((other) => iou(face.box, other.box) < overlap));
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Which matched faces to classify: one no track holds, or whose track went `every` - 1 frames unclassified. */
function dueOf(matched, every) {
  return matched.map((track) => track === null || track.skipped + 1 >= every);
}

/** Frames per second and mean time per frame over the last `window` frames (fer.stream.FpsMeter). */
export class FpsMeter {
  constructor(window = FPS_WINDOW) {
    this.window = window;
    this.reset();
  }

  tick(now, latencyS = 0.0) {
    this.times.push(now);
    this.latencies.push(latencyS);
    if (this.times.length > this.window) this.times.shift();
    if (this.latencies.length > this.window) this.latencies.shift();
    return this.fps;
  }

  get fps() {
    const span = this.times.length ? this.times[this.times.length - 1] - this.times[0] : 0.0;
    return span > 0 ? (this.times.length - 1) / span : 0.0;
  }

  get meanLatencyS() {
    return this.latencies.length ? this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length : 0.0;
  }

  reset() {
    this.times = [];
    this.latencies = [];
  }
}

/**
 * Feed each frame's faces to `update`; get them back with ids and smoothed probabilities. A face not due for
 * classification (no `probabilities`) keeps its track's last ones, moved to its new box, and feeds them to the
 * smoothing again (its window spans the same frames either way).
 */
export class FaceTracker {
  constructor({ window = SMOOTHING_WINDOW, iouMatch = IOU_MATCH, maxMissing = MAX_MISSING, labels } = {}) {
    Object.assign(this, { window, iouMatch, maxMissing, labels });
    this.tracks = [];
    this.nextId = 1;
  }

  match(faces) {
    const pairs = [];
    this.tracks.forEach((track, ti) => faces.forEach((face, fi) => pairs.push([iou(track.box, face.box), ti, fi])));
    // Python's sorted(..., reverse=True) on (iou, track index, face index) tuples
    pairs.sort((a, b) => b[0] - a[0] || b[1] - a[1] || b[2] - a[2]);
    const matched = new Array(faces.length).fill(null);
    const used = new Set();
    for (const [overlap, ti, fi] of pairs) {
      if (overlap < this.iouMatch) break;
      if (!used.has(ti) && matched[fi] === null) {
        matched[fi] = this.tracks[ti];
        used.add(ti);
      }
    }
    return matched;
  }

  /**
   * Match the frame's faces to the tracks and smooth. With `classify` (faces -> Promise of predictions, one
   * batch), the faces due are classified by it; a face left out keeps its track's last probabilities.
   */
  async update(faces, classify = null, every = 1) {
    const matched = this.match(faces);
    if (classify) {
      const due = dueOf(matched, every);
      const predicted = await classify(faces.filter((_, i) => due[i]));
      let next = 0;
      faces = faces.map((face, i) => (due[i] ? predicted[next++] : face));
    }
    const result = faces.map((face, i) => {
      let track = matched[i];
      if (track === null) {
        if (!face.probabilities) throw new Error("A face that no track holds must be classified.");
        track = { id: this.nextId++, box: face.box, history: [], missing: 0, last: null, skipped: 0 };
        this.tracks.push(track);
      }
      track.box = face.box;
      track.missing = -1;
      if (face.probabilities) {
        track.last = face;
        track.skipped = 0;
      } else {
        face = { ...track.last, box: face.box, score: face.score, landmarks: face.landmarks };
        track.skipped += 1;
      }
      track.history.push(face.probabilities);
      if (track.history.length > this.window) track.history.shift();
      const mean = new Float64Array(face.probabilities.length);
      for (const p of track.history) for (let k = 0; k < mean.length; k++) mean[k] += p[k];
      for (let k = 0; k < mean.length; k++) mean[k] /= track.history.length;
      const emotion = this.labels[argmax(mean)];
      return { id: track.id, prediction: { ...face, probabilities: mean, emotion }, raw: face };
    });
    for (const track of this.tracks) track.missing += 1;
    this.tracks = this.tracks.filter((track) => track.missing <= this.maxMissing);
    return result;
  }

  /** Forget every face (a scene cut): the faces that follow get new ids. */
  endTracks() {
    this.tracks = [];
  }

  /** Forget every face and start the ids again from 1 (a new stream). */
  reset() {
    this.tracks = [];
    this.nextId = 1;
  }
}

/**
 * `new StreamProcessor(detector, classifier, {labels, tracking, scene}).process(frame, now)` -> a frame result:
 * {faces: [{id, prediction, raw}], detected, cut, latencyS, fps, meanLatencyS}. One instance per stream.
 *
 * The detector runs every `detectEvery`-th frame, on a new frame size, and at once on a scene cut, on motion, on
 * a change away from the followed faces, or after a followed face was lost; in between each box is moved by
 * O-Net (`detector.refine`) and dropped when O-Net no longer sees a face there.
 */
export class StreamProcessor {
  constructor(detector, classifier, { labels, tracking = {}, scene = {} } = {}) {
    const options = { ...TRACKING_DEFAULTS, ...tracking };
    if (options.detectEvery < 1 || options.classifyEvery < 1) {
      const given = `${options.detectEvery} and ${options.classifyEvery}`;
      throw new Error(`detectEvery and classifyEvery must be at least 1, got ${given}.`);
    }
    this.detector = detector;
    this.classifier = classifier;
    this.labels = labels;
    this.options = options;
    this.staleS = options.staleS;
    this.tracker = new FaceTracker({
      window: options.smoothingWindow,
      iouMatch: options.iouMatch,
      maxMissing: options.maxMissing,
      labels,
    });
    this.scene = new SceneWatch({ ...scene, motion: options.motion });
    this.meter = new FpsMeter(options.fpsWindow);
    this.resetState();
  }

  resetState() {
    this.faces = [];
    this.sinceDetect = 0;
    this.shape = null;
    this.last = null;
  }

  /** Forget tracks, boxes and timings (a new stream). */
  reset() {
    this.tracker.reset();
    this.scene.reset();
    this.meter.reset();
    this.resetState();
  }

  /** Detect or follow the faces of an ImageData frame, classify those due in one batch, track and smooth. */
  async process(frame, now = null) {
    const start = performance.now() / 1000;
    now = now === null ? start : now;
    if (this.last !== null && this.staleS !== null && now - this.last > this.staleS) this.reset();
    this.last = now;
    const sameShape = this.shape !== null && this.shape[0] === frame.width && this.shape[1] === frame.height;
    let detect = !sameShape || this.sinceDetect >= this.options.detectEvery;
    let cut = false;
    if (this.options.scene) {
      const change = this.scene.update(frame);
      cut = change.cut && sameShape;
      const boxes = this.faces.map((face) => face.box);
      const entered = change.changedOutside(boxes, frame.width, frame.height, this.options.newFace);
      detect = detect || change.cut || change.motion || entered;
      if (cut) {
        this.tracker.endTracks();
        this.faces = [];
      }
    }
    [this.faces, detect] = await this.locate(frame, detect, sameShape);
    this.shape = [frame.width, frame.height];
    this.sinceDetect = detect ? 1 : this.sinceDetect + 1;
    const faces = await this.tracker.update(this.faces, (due) => this.predict(frame, due), this.options.classifyEvery);
    const latencyS = performance.now() / 1000 - start;
    const fps = this.meter.tick(now, latencyS);
    return { faces, detected: detect, cut, latencyS, fps, meanLatencyS: this.meter.meanLatencyS };
  }

  /** The faces with their probabilities and top emotion, classified in one batch. */
  async predict(frame, faces) {
    const probabilities = faces.length ? await this.classifier.classify(frame, faces.map((face) => face.box)) : [];
    return faces.map((face, i) => {
      const p = Float64Array.from(probabilities[i]);
      return { ...face, probabilities: p, emotion: this.labels[argmax(p)] };
    });
  }

  /** [this frame's faces, whether the detector ran] (fer.stream.StreamProcessor._locate). */
  async locate(frame, detect, sameShape) {
    if (!this.options.follow) return [detect ? await this.detector.detect(frame) : this.faces, detect];
    const followed = sameShape ? await this.follow(frame, this.faces) : [];
    if (!detect && followed.length === this.faces.length) return [followed, false];
    const known = [...followed, ...this.faces]; // a detection overlapping none of them would start a track
    const found = (await this.detector.detect(frame)).filter(
      (face) => face.score >= this.options.newScore || unmatched([face], known).length === 0,
    );
    return [[...found, ...unmatched(followed, found)], true];
  }

  /** The faces moved by O-Net, without those that no longer hold a face. */
  async follow(frame, faces) {
    if (!faces.length) return [];
    const refined = await this.detector.refine(
      frame,
      faces.map((face) => face.box),
      this.options.followPasses,
    );
    const kept = [];
    for (const face of refined) {
      if (this.holdsFace(face, frame.width, frame.height) && unmatched([face], kept).length) kept.push(face);
    }
    return kept;
  }

  holdsFace(face, width, height) {
    const [x1, y1, x2, y2] = face.box;
    const inside = Math.min(x2, width) - Math.max(x1, 0.0) > 0 && Math.min(y2, height) - Math.max(y1, 0.0) > 0;
    return inside && face.score >= this.options.keepScore;
  }
}
