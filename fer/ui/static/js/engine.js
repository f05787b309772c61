// The networks in the page: onnxruntime-web (WebAssembly, SIMD; threads when the page is cross-origin isolated)
// loaded from the app itself, and MTCNN and the classifier built from the manifest's ONNX files.

const ORT_MODULE = "../vendor/onnxruntime-web/ort.wasm.min.mjs";
export const MAX_THREADS = 4;

/** The threads onnxruntime-web may use: the cores, up to MAX_THREADS, when the page is cross-origin isolated. */
export function threadCount() {
  if (!globalThis.crossOriginIsolated || typeof SharedArrayBuffer === "undefined") return 1;
  return Math.max(1, Math.min(MAX_THREADS, navigator.hardwareConcurrency || 1));
}

/** The manifest (fer/ui/page.py) at `url`, or an Error saying why not. */
export async function loadManifest(url) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${new URL(url).pathname} answered ${response.status}`);
  return response.json();
}

/** {ort, detector, classifier, threads} for a manifest fetched from `manifestUrl` (its URLs are relative to it). */
export async function loadEngine(manifest, manifestUrl) {
  // loaded on the first start only: a visit that never starts the webcam downloads none of it
  const [ort, { createDetector }, { createClassifier }] = await Promise.all([
    import(ORT_MODULE),
    import("./mtcnn.js"),
    import("./classify.js"),
  ]);
  const url = (path) => new URL(path, manifestUrl).href;
  ort.env.wasm.wasmPaths = url(manifest.runtime.wasmPaths);
  ort.env.wasm.numThreads = threadCount();
  ort.env.wasm.proxy = false;
  const files = manifest.files;
  const detector = await createDetector(
    ort,
    { pnet: url(files.pnet), rnet: url(files.rnet), onet: url(files.onet) },
    manifest.detector,
  );
  const classifier = await createClassifier(ort, url(files.classifier), { ...manifest.classifier, labels: manifest.labels });
  return { ort, detector, classifier, threads: ort.env.wasm.numThreads };
}
