// Boxes and "#1 happy 62%" labels drawn on a canvas, as fer/draw.py draws them on the server's frames.

export const COLORS = {
  angry: [230, 57, 70],
  disgust: [106, 153, 78],
  fear: [155, 93, 229],
  happy: [255, 190, 11],
  sad: [58, 134, 255],
  surprise: [255, 112, 166],
  neutral: [200, 200, 200],
};
const WHITE = [255, 255, 255];

/** How a probability is shown everywhere (labels, the status line): "76%". */
export function percent(probability) {
  return `${(probability * 100).toFixed(0)}%`;
}

/** "#3 happy 62%" for a prediction {emotion, probabilities} of `labels` order. */
export function labelText(prediction, labels, id = null) {
  const prefix = id !== null ? `#${id} ` : "";
  return `${prefix}${prediction.emotion} ${percent(prediction.probabilities[labels.indexOf(prediction.emotion)])}`;
}

function overlap(a, b) {
  const width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return Math.max(0.0, width) * Math.max(0.0, height);
}

/**
 * Where each face's label goes (fer.draw.place_labels): a rectangle of one of `sizes[i]` ([w, h]: the full
 * label, then shorter ones) above, below or inside the top or bottom of its box, aligned left, right or centred;
 * the first size that covers no other face's box or label already placed, else the one covering least.
 * Returns [rectangle, index of the size used] per face.
 */
export function placeLabels(boxes, sizes, [imageW, imageH]) {
  const placed = [];
  boxes.forEach(([x1, y1, x2, y2], index) => {
    const others = [...boxes.filter((_, other) => other !== index), ...placed.map(([rect]) => rect)];
    let best = null;
    for (let choice = 0; choice < sizes[index].length; choice++) {
      const [w, h] = sizes[index][choice];
      let tops = [y1 - h, y2, y1, y2 - h].filter((top) => top >= 0 && top <= imageH - h);
      if (!tops.length) tops = [Math.max(0.0, Math.min(y1, imageH - h))];
      const lefts = [x1, x2 - w, (x1 + x2 - w) / 2].map((left) => Math.min(Math.max(0.0, left), Math.max(0.0, imageW - w)));
      for (const top of tops) {
        for (const left of lefts) {
          const rect = [left, top, left + w, top + h];
          const cover = others.reduce((sum, other) => sum + overlap(rect, other), 0);
          if (best === null || cover < best[0]) best = [cover, choice, rect];
        }
      }
      if (best[0] === 0) break;
    }
    placed.push([best[2], best[1]]);
  });
  return placed;
}

const rgb = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

/**
 * Draw `source` (a canvas or image of the frame) on `canvas` and each tracked face ({id, prediction}) over it:
 * its box in its emotion's colour and a "#id emotion NN%" label that avoids the other faces (shortened to "#id"
 * where it cannot), sized as fer.draw sizes them (2 px lines and 16 px text for a 640 px frame).
 */
export function drawFaces(canvas, source, faces, labels) {
  const { width, height } = source;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const scale = Math.max(width, height) / 640;
  const line = Math.max(2, Math.round(2 * scale));
  const fontSize = Math.max(12, Math.round(16 * scale));
  ctx.font = `${fontSize}px sans-serif`;
  ctx.textBaseline = "alphabetic";
  const texts = faces.map((face) => [labelText(face.prediction, labels, face.id), `#${face.id}`]);
  const extents = texts.map((options) => options.map((text) => ctx.measureText(text)));
  const sizes = extents.map((options) =>
    options.map((m) => [
      Math.ceil(m.width) + 2 * line,
      Math.ceil(m.actualBoundingBoxAscent + m.actualBoundingBoxDescent) + 2 * line,
    ]),
  );
  const boxes = faces.map((face) => face.prediction.box);
  const placed = placeLabels(boxes, sizes, [width, height]);
  ctx.lineWidth = line;
  faces.forEach((face) => {
    const [x1, y1, x2, y2] = face.prediction.box;
    ctx.strokeStyle = rgb(COLORS[face.prediction.emotion] || WHITE);
    // PIL's rectangle(width=w) draws inward from the box's edges
    ctx.strokeRect(x1 + line / 2, y1 + line / 2, Math.max(0, x2 - x1 - line + 1), Math.max(0, y2 - y1 - line + 1));
  });
  faces.forEach((face, i) => {
    const [[lx1, ly1, lx2, ly2], choice] = placed[i];
    ctx.fillStyle = rgb(COLORS[face.prediction.emotion] || WHITE);
    ctx.fillRect(lx1, ly1, lx2 - lx1, ly2 - ly1);
    ctx.fillStyle = "rgb(0, 0, 0)";
    ctx.fillText(texts[i][choice], lx1 + line, ly1 + line + extents[i][choice].actualBoundingBoxAscent);
  });
}
