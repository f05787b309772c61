// The webcam: getUserMedia at 640x480, each new video frame handed over as ImageData (mirrored, as the server
// stream sees it: Gradio's webcam mirrors frames before it sends them).

export const CONSTRAINTS = { video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false };

export class Camera {
  constructor(video, { mirror = true } = {}) {
    this.video = video;
    this.mirror = mirror;
    this.stream = null;
    this.canvas = document.createElement("canvas"); // the frame being processed: draw.js shows it from here
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
  }

  /** Ask for the camera and wait for its first frame; throws a DOMException the caller can explain. */
  async open(constraints = CONSTRAINTS) {
    this.stream = await navigator.mediaDevices.getUserMedia(constraints);
    this.video.srcObject = this.stream;
    this.video.muted = true;
    this.video.playsInline = true;
    await this.video.play();
    this.video.classList.add("live");
    if (!this.video.videoWidth) {
      await new Promise((resolve) => this.video.addEventListener("loadeddata", resolve, { once: true }));
    }
  }

  get width() {
    return this.video.videoWidth;
  }

  get height() {
    return this.video.videoHeight;
  }

  /** Call `callback(now, metadata)` on every new video frame (requestVideoFrameCallback, else animation frames). */
  onFrame(callback) {
    const video = this.video;
    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
      const next = (now, metadata) => {
        if (!this.stream) return;
        callback(now, metadata);
        video.requestVideoFrameCallback(next);
      };
      video.requestVideoFrameCallback(next);
    } else {
      let lastTime = -1;
      const next = (now) => {
        if (!this.stream) return;
        if (video.currentTime !== lastTime) {
          lastTime = video.currentTime;
          callback(now, { mediaTime: video.currentTime });
        }
        requestAnimationFrame(next);
      };
      requestAnimationFrame(next);
    }
  }

  /** The video's current frame as ImageData (kept in `this.canvas` too). */
  grab() {
    const { width, height } = this;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const ctx = this.ctx;
    ctx.setTransform(this.mirror ? -1 : 1, 0, 0, 1, this.mirror ? width : 0, 0);
    ctx.drawImage(this.video, 0, 0, width, height);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    return ctx.getImageData(0, 0, width, height);
  }

  close() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.video.classList.remove("live");
  }
}
