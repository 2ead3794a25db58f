"""Few-shot supervised regression problems (sine waves) over the same outer loop."""
