"""The in-page webcam's settings, as the manifest (fer/ui/page.py) hands them to the page's modules: the classifier's
crop and logit order, and the detector's options, under the names the page's code uses."""

from __future__ import annotations

from typing import Any

from fer.detect import REFINE_PASSES, DetectorOptions
from fer.labels import emotion_order
from fer.model import ModelInfo
from fer.preprocess import InputSpec


def classifier_config(info: ModelInfo, spec: InputSpec | None = None) -> dict[str, Any]:
    """The manifest's `classifier` section: the crop (`spec`, default the model's) and the logits' order."""
    spec = spec or info.spec
    return {
        "outputLabels": list(info.label_names),  # the order of the classifier's logits
        "order": emotion_order(info.label_names),  # logits[order[i]] is EMOTIONS[i]'s
        "size": spec.size,
        "mean": spec.mean,
        "std": spec.std,
        "margin": spec.margin,
        "detail": spec.detail,
        "flipAverage": info.flip_average,
        "flipInGraph": True,  # the exported graph already averages a face and its mirror: feed faces only
        "output": "logits",  # softmax in the page
    }


def detector_config(options: DetectorOptions) -> dict[str, Any]:
    """The manifest's `detector` section: fer.detect's settings under the page's names."""
    return {
        "minFaceSize": options.min_face_size,
        "thresholds": list(options.thresholds),
        "factor": options.factor,
        "maxSide": options.max_side,
        "minScore": options.min_score,
        "refinePasses": REFINE_PASSES,
    }
