// When the page cannot read the webcam itself (no WebAssembly SIMD, a model that cannot load, an error mid-stream),
// the server's stream takes over: the reason is shown in one line, and Gradio's webcam streaming is started.

import { showReason, stats, watchServer } from "./stats.js";

// The smallest module using a SIMD instruction (i8x16.popcnt of v128.const), as wasm-feature-detect tests it
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const CONTROL_WAIT_MS = 20000;

/** Why this browser cannot run the networks in the page, or null when it can. */
export function unsupportedReason() {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") {
    return "this browser has no WebAssembly";
  }
  try {
    if (!WebAssembly.validate(SIMD_PROBE)) return "this browser has no WebAssembly SIMD";
  } catch {
    return "this browser has no WebAssembly SIMD";
  }
  return null;
}

function waitFor(find, timeoutMs = CONTROL_WAIT_MS) {
  return new Promise((resolve) => {
    const started = performance.now();
    const poll = () => {
      const found = find();
      if (found || performance.now() - started > timeoutMs) resolve(found || null);
      else setTimeout(poll, 100);
    };
    poll();
  });
}

/** Start Gradio's webcam stream of the server path (#webcam): allow the camera, then press its record button. */
export async function startServerStream() {
  const root = await waitFor(() => document.getElementById("webcam"));
  if (!root) return false;
  root.scrollIntoView({ block: "center" });
  const access = [...root.querySelectorAll("button")].find((b) => /access webcam/i.test(b.textContent));
  if (access) access.click();
  const record = await waitFor(() =>
    root.querySelector('button[aria-label="capture photo"], button[aria-label*="record" i], button.record-button'),
  );
  if (!record) return false;
  record.click();
  return true;
}

/** Fall back to the server stream: show `reason` in one line, switch ferStats to "server", start the stream. */
export async function fallBack(reason) {
  showReason(`Running on the server instead: ${reason}.`);
  Object.assign(stats, { mode: "server", running: false, frames: 0, fps: 0, msPerFrame: 0, faces: 0, labels: "" });
  watchServer();
  const started = await startServerStream();
  if (!started) showReason(`The page cannot read the webcam (${reason}); use the server stream below.`);
  return started;
}
