"""Facial emotion recognition: MTCNN face detection + a timm ResNet18 on 1x75x75 grayscale faces."""

from fer.detect import DetectorOptions, FaceDetector
from fer.draw import draw_faces
from fer.faces import Face, FacePrediction
from fer.images import ImageError, load_rgb
from fer.labels import EMOTIONS
from fer.model import ModelError, load_classifier
from fer.recognizer import EmotionRecognizer
from fer.tracking import FaceTracker

__all__ = [
    "EMOTIONS",
    "DetectorOptions",
    "EmotionRecognizer",
    "Face",
    "FaceDetector",
    "FacePrediction",
    "FaceTracker",
    "ImageError",
    "ModelError",
    "draw_faces",
    "load_classifier",
    "load_rgb",
]
