// The Webcam tab's entry point (imported by boot.js): the Start / Stop buttons drive the in-page webcam;
// window.ferStats follows whichever path shows frames.

import { watchServer } from "./stats.js";
import { PageWebcam } from "./webcam.js";

const webcam = new PageWebcam();
window.ferWebcam = webcam;
let ready = false; // clicks before boot.js hands over its early ones are boot.js's

function press(id) {
  if (id === "fer-start") webcam.start();
  else if (id === "fer-stop") webcam.stop();
}

document.addEventListener("click", (event) => {
  const button = ready && event.target instanceof Element && event.target.closest("#fer-start, #fer-stop");
  if (button) press(button.id);
});
watchServer();

/** The clicks made while the modules loaded (boot.js): the last one counts. */
export function replay(clicked) {
  ready = true;
  if (clicked.length) press(clicked[clicked.length - 1]);
}
