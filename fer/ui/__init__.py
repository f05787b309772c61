"""The Gradio app: the Blocks layout, the Video tab and the UI-only helpers (imports gradio)."""
