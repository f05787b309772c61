"""Example inputs for the app, made on first use from public-domain photos that ship inside installed packages.

- scikit-image's `data.astronaut()`: Eileen Collins, NASA photo (public domain; scikit-image lists it so).
- matplotlib's sample `grace_hopper.jpg`: Grace Hopper, U.S. Navy photo (public domain; in mpl-data/sample_data).

`group.jpg` puts both, at several sizes, side by side; `clip.mp4` moves them for 3 s with a tone as its AAC
sound track (so the Video tab's audio pass-through shows too). Nothing here comes from the training data.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

EXAMPLES_DIR = Path(tempfile.gettempdir()) / "fer-examples"
GROUP_SIZE = (960, 540)
BACKDROP = (70, 80, 90)
# (photo, height in px, x, y, mirrored): five people, two of them close together
GROUP_LAYOUT = (
    ("astronaut", 300, 20, 200, False),
    ("hopper", 330, 250, 150, False),
    ("astronaut", 220, 520, 60, True),
    ("hopper", 200, 700, 40, True),
    ("astronaut", 170, 760, 330, False),
)
FACE_CROP = (171, 52, 278, 182)  # the astronaut's face, for /classify_face
CLIP_SIZE, CLIP_FPS, CLIP_SECONDS = (480, 360), 10, 3
TONE_HZ, SAMPLE_RATE = 440, 44100


def photos() -> dict[str, Image.Image]:
    from matplotlib import cbook
    from skimage import data

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = Image.open(handle).convert("RGB")
    return {"astronaut": Image.fromarray(data.astronaut()), "hopper": hopper}


def group_photo() -> Image.Image:
    """Five faces of two people at several sizes on a plain backdrop."""
    sources = photos()
    canvas = Image.new("RGB", GROUP_SIZE, BACKDROP)
    for name, height, x, y, mirrored in GROUP_LAYOUT:
        photo = sources[name]
        photo = photo.resize((round(photo.width * height / photo.height), height), Image.LANCZOS)
        canvas.paste(ImageOps.mirror(photo) if mirrored else photo, (x, y))
    return canvas


def write_clip(path: Path) -> Path:
    """Both people drifting across a 480x360 frame for CLIP_SECONDS, H.264 + an AAC tone."""
    sources = photos()
    astronaut, hopper = sources["astronaut"].resize((220, 220)), sources["hopper"].resize((170, 200))
    frames = CLIP_FPS * CLIP_SECONDS
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=CLIP_FPS)
        video.width, video.height, video.pix_fmt = *CLIP_SIZE, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for index in range(frames):
            canvas = Image.new("RGB", CLIP_SIZE, BACKDROP)
            canvas.paste(astronaut, (10 + 3 * index, 70))
            canvas.paste(hopper, (300 - 2 * index, 40 + index))
            container.mux(video.encode(av.VideoFrame.from_image(canvas)))
        container.mux(video.encode(None))
        seconds = np.arange(SAMPLE_RATE * CLIP_SECONDS) / SAMPLE_RATE
        tone = (0.2 * np.sin(2 * np.pi * TONE_HZ * seconds)).astype(np.float32)[None, :]
        sound = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        sound.sample_rate, sound.pts, sound.time_base = SAMPLE_RATE, 0, Fraction(1, SAMPLE_RATE)
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


def example_files() -> dict[str, str]:
    """Paths of `astronaut`, `face` (its crop), `group` (photos) and `clip` (video), written once to the temp dir."""
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    paths = {name: EXAMPLES_DIR / name for name in ("astronaut.jpg", "face.jpg", "group.jpg", "clip.mp4")}
    if not paths["astronaut.jpg"].exists():
        photos()["astronaut"].save(paths["astronaut.jpg"], quality=90)
    if not paths["face.jpg"].exists():
        photos()["astronaut"].crop(FACE_CROP).save(paths["face.jpg"], quality=90)
    if not paths["group.jpg"].exists():
        group_photo().save(paths["group.jpg"], quality=90)
    if not paths["clip.mp4"].exists():
        write_clip(paths["clip.mp4"])
    return {Path(name).stem: str(path) for name, path in paths.items()}
