// The Webcam tab in the page: capture -> detect / follow (MTCNN) -> classify -> track -> draw, one frame in
// flight, on every new camera frame. Any failure hands over to the server stream (fallback.js) with its reason.

import { Camera } from "./camera.js";
import { drawFaces } from "./draw.js";
import { loadEngine, loadManifest } from "./engine.js";
import { fallBack, unsupportedReason } from "./fallback.js";
import { browserFrame, showReason, showStatus, startBrowser, stats, stopped } from "./stats.js";
import { StreamProcessor } from "./track.js";

export const MANIFEST_URL = new URL("../../manifest.json", import.meta.url).href;

const message = (err) => (err && err.message ? err.message : String(err)).split("\n")[0];

const CAMERA_ERRORS = {
  NotAllowedError: "The camera was not allowed: allow it in the browser's address bar, then press Start webcam.",
  NotFoundError: "No camera was found. No webcam? The Video tab's example shows the same tracking on a clip.",
  NotReadableError: "The camera is in use by another program.",
};

export class PageWebcam {
  constructor() {
    this.state = "idle"; // idle | starting | running
    this.engine = null; // kept between starts: the networks load once
    this.manifest = null;
    this.camera = null;
    this.busy = false;
    this.pending = false;
  }

  get canvas() {
    return document.getElementById("fer-canvas");
  }

  async start() {
    if (this.state !== "idle") return;
    this.state = "starting";
    showReason(null);
    const unsupported = unsupportedReason();
    if (unsupported) return this.fail(unsupported);
    try {
      if (!this.engine) {
        showStatus("Loading the networks into this page…");
        this.manifest = await loadManifest(MANIFEST_URL);
        this.engine = await loadEngine(this.manifest, MANIFEST_URL);
      }
    } catch (err) {
      return this.fail(`the model could not be loaded in this page (${message(err)})`);
    }
    const video = document.getElementById("fer-camera");
    if (!video) return this.fail("the page's view is missing");
    this.camera = new Camera(video);
    try {
      showStatus("Waiting for the camera…");
      await this.camera.open();
    } catch (err) {
      this.camera.close();
      this.state = "idle";
      stopped(CAMERA_ERRORS[err && err.name] || `The camera could not start (${message(err)}).`);
      return;
    }
    if (this.state !== "starting") return this.camera.close(); // stopped while waiting
    const { labels, tracking, scene } = this.manifest;
    this.processor = new StreamProcessor(this.engine.detector, this.engine.classifier, { labels, tracking, scene });
    startBrowser(this.manifest.model.id, this.engine.threads);
    showStatus("Starting…");
    this.state = "running";
    this.camera.onFrame(() => {
      this.pending = true;
      if (!this.busy) this.run();
    });
  }

  /** Process the newest frame, then the newest one again while new frames came in meanwhile. */
  async run() {
    this.busy = true;
    const labels = this.manifest.labels;
    while (this.pending && this.state === "running") {
      this.pending = false;
      const captured = performance.now();
      const frame = this.camera.grab();
      let result;
      try {
        result = await this.processor.process(frame, captured / 1000);
      } catch (err) {
        this.busy = false;
        return this.fail(`an error in the page (${message(err)})`);
      }
      if (this.state !== "running") break;
      drawFaces(this.canvas, this.camera.canvas, result.faces, labels);
      browserFrame(result, frame.width, frame.height, labels);
      if (window.ferTrace) record(window.ferTrace, frame, result, captured);
      window.dispatchEvent(new CustomEvent("fer-frame", { detail: { captured, shown: performance.now() } }));
    }
    this.busy = false;
  }

  stop(message = "Stopped. Press Start webcam to go on.") {
    if (this.state === "idle") return;
    this.state = "idle";
    if (this.camera) this.camera.close();
    stopped(message);
  }

  async fail(reason) {
    this.stop("");
    this.state = "idle";
    console.warn(`fer: falling back to the server stream: ${reason}`);
    return fallBack(reason);
  }
}

/** For tests, when a test sets window.ferTrace = {keepFrames, frameIndex}: each frame's faces in `records` (with
 * `frameIndex(frame)`, when given: which camera frame it was), and the first `keepFrames` frames in `frames`. */
function record(trace, frame, result, captured) {
  trace.records = trace.records || [];
  trace.frames = trace.frames || [];
  const keep = trace.frames.length < (trace.keepFrames || 0);
  trace.records.push({
    t: captured / 1000,
    index: trace.frameIndex ? trace.frameIndex(frame) : null,
    frame: keep ? trace.frames.length : null,
    detected: result.detected,
    cut: result.cut,
    faces: result.faces.map((face) => ({
      id: face.id,
      box: Array.from(face.prediction.box),
      score: face.prediction.score,
      emotion: face.prediction.emotion,
      probabilities: Array.from(face.prediction.probabilities),
      raw: Array.from(face.raw.probabilities),
    })),
  });
  if (keep) trace.frames.push(new ImageData(new Uint8ClampedArray(frame.data), frame.width, frame.height));
}

export { stats };
