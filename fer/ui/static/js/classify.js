// The emotion classifier in the page: every face of a frame cropped as the server crops it (crop.js), one run of
// the classifier's ONNX file (which already averages each face with its mirror image when the model asks), and
// softmax probabilities in the app's EMOTIONS order.

import { faceInput } from "./crop.js";
import { serially } from "./serial.js";

/**
 * The manifest's `classifier` section: the input spec, and `order`, with which logits[order[i]] is the i-th
 * emotion's (fer.labels.emotion_order of the model's label_names).
 * @typedef {import('./crop.js').InputSpec & {order: number[]}} ClassifierConfig
 */

/**
 * @param {any} ort the onnxruntime-web module
 * @param {string} url the classifier's ONNX file
 * @param {ClassifierConfig} config
 * @returns {Promise<{classify: (frame: ImageData, boxes: number[][]) => Promise<Float32Array[]>}>}
 */
export async function createClassifier(ort, url, config) {
  const session = await ort.InferenceSession.create(url, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const { size, order } = config;
  let input = new Float32Array(0);

  /**
   * @param {ImageData} frame
   * @param {number[][]} boxes
   * @returns {Promise<Float32Array[]>} one array of probabilities per box, in EMOTIONS order
   */
  async function classify(frame, boxes) {
    if (!boxes.length) return [];
    if (input.length < boxes.length * size * size) input = new Float32Array(boxes.length * size * size);
    const batch = faceInput(frame, boxes, config, input);
    const out = await session.run({ input: new ort.Tensor("float32", batch, [boxes.length, 1, size, size]) });
    const logits = out.logits.data;
    const classes = out.logits.dims[1];
    return boxes.map((_, k) => softmax(logits.subarray(k * classes, (k + 1) * classes), order));
  }

  return { classify: serially(classify) }; // one run at a time: the batch buffer is shared
}

/**
 * Softmax of one face's logits, reordered: result[i] = softmax(logits)[order[i]].
 * @param {Float32Array} logits
 * @param {number[]} order
 * @returns {Float32Array}
 */
function softmax(logits, order) {
  const top = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - top));
  const total = exp.reduce((a, b) => a + b, 0);
  return Float32Array.from(order, (i) => exp[i] / total);
}
