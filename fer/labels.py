"""The 7 emotion classes and the folder / vote-column names that map onto them."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
}


def canonical_emotion(name: str) -> str | None:
    """Map a folder or column name (any case, aliases allowed) to one of EMOTIONS, else None."""
    return ALIASES.get(name.strip().lower().replace("-", "_").replace(" ", "_"))


def emotion_order(label_names: tuple[str, ...]) -> list[int]:
    """Column indices that put a model's outputs (in its `label_names` order) into EMOTIONS order."""
    return [label_names.index(name) for name in EMOTIONS]
