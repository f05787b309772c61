"""A user's bad input in the app: one line in the server log (no traceback) and the same line in the page."""

from __future__ import annotations

import logging

import gradio as gr

log = logging.getLogger("fer.app")


def refuse(message: str) -> gr.Error:
    """The gr.Error to raise for a bad input, logged here in one line (Gradio itself then prints no traceback)."""
    message = " ".join(str(message).split())
    log.warning("refused: %s", message)
    return gr.Error(message, print_exception=False)
