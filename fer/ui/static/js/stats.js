// window.ferStats, kept current for tests and monitoring, and the Webcam tab's status and reason lines.
//
// window.ferStats = {mode: "browser" | "server", running, frames, fps, msPerFrame, faces, labels, size, model,
//                    threads, reason}
// `mode` says where the frames are read: in this page ("browser") or by the server's stream ("server");
// `frames` counts annotated frames shown since the start, `faces` is the number of faces of the last one.

import { labelText } from "./draw.js";

export const stats = {
  mode: "browser",
  running: false,
  frames: 0,
  fps: 0,
  msPerFrame: 0,
  faces: 0,
  labels: "",
  size: null,
  model: null,
  threads: null,
  reason: null,
};
window.ferStats = stats;

const byId = (id) => document.getElementById(id);

/** The status line: plain text or a {strong, rest} pair. */
export function showStatus(text, strong = null) {
  const line = byId("fer-status");
  if (!line) return;
  line.replaceChildren();
  if (strong !== null) {
    const bold = document.createElement("strong");
    bold.textContent = strong;
    line.append(bold, text);
  } else {
    line.textContent = text;
  }
}

/** The one-line reason the page fell back to the server stream (null hides it). */
export function showReason(text) {
  stats.reason = text;
  const line = byId("fer-reason");
  if (!line) return;
  line.textContent = text || "";
  line.hidden = !text;
}

export function startBrowser(model, threads) {
  Object.assign(stats, { mode: "browser", running: true, frames: 0, fps: 0, msPerFrame: 0, faces: 0, labels: "" });
  Object.assign(stats, { model, threads });
}

/** A frame processed in the page: counts, frames/s, ms a frame, labels; the status line as the server's. */
export function browserFrame(result, width, height, labels) {
  const text = result.faces.map((face) => labelText(face.prediction, labels, face.id)).join(", ") || "no face";
  Object.assign(stats, {
    frames: stats.frames + 1,
    fps: result.fps,
    msPerFrame: result.meanLatencyS * 1000,
    faces: result.faces.length,
    labels: text,
    size: [width, height],
  });
  const threads = stats.threads > 1 ? `${stats.threads} threads` : "1 thread";
  showStatus(
    ` · ${stats.msPerFrame.toFixed(1)} ms per frame · ${width}x${height} · ${text} · in this page (${threads})`,
    `${stats.fps.toFixed(1)} frames/s`,
  );
}

export function stopped(message) {
  stats.running = false;
  showStatus(message);
}

const SERVER_STATUS = /([\d.]+) frames\/s\s*·\s*([\d.]+) ms per frame\s*·\s*(\d+)x(\d+)\s*·\s*(.*)$/s;

/** Follow the server stream: each new annotated image counts a frame; frames/s and labels from its status. */
export function watchServer() {
  if (watchServer.observer) return;
  let lastSrc = null;
  const observer = new MutationObserver(() => {
    const img = document.querySelector("#live img");
    if (img && img.src && img.src !== lastSrc) {
      lastSrc = img.src;
      if (!stats.running || stats.mode === "server") {
        if (stats.mode !== "server") Object.assign(stats, { frames: 0 });
        Object.assign(stats, { mode: "server", running: true, frames: stats.frames + 1 });
      }
    }
    const line = document.querySelector("#stream-stats");
    const match = line && stats.mode === "server" ? SERVER_STATUS.exec(line.innerText.trim()) : null;
    if (match) {
      const text = match[5].trim();
      Object.assign(stats, {
        fps: Number(match[1]),
        msPerFrame: Number(match[2]),
        size: [Number(match[3]), Number(match[4])],
        labels: text,
        faces: text === "no face" ? 0 : text.split(", ").length,
      });
    }
  });
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"], characterData: true });
  watchServer.observer = observer;
}
