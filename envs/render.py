"""Plain-numpy drawings of environment states for ``render_mode="rgb_array"`` (no pygame needed)."""

from __future__ import annotations

import numpy as np

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (200, 200, 200)
BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREEN = (44, 160, 44)


def check_render_mode(render_mode: str | None, modes: list[str]) -> None:
    """Raise ``ValueError`` unless ``render_mode`` is ``None`` or one of ``modes``."""
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode={render_mode!r} must be None or one of {modes}")


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return xs + 0.5, ys + 0.5


def fill_circle(img: np.ndarray, cx: float, cy: float, r: float, color: tuple[int, ...]) -> None:
    """Fill a disc centred at pixel ``(cx, cy)`` with radius ``r``."""
    xs, ys = _grid(*img.shape[:2])
    img[(xs - cx) ** 2 + (ys - cy) ** 2 <= r * r] = color


def fill_rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float,
              color: tuple[int, ...]) -> None:
    """Fill the axis-aligned rectangle between pixel corners ``(x0, y0)`` and ``(x1, y1)``."""
    xs, ys = _grid(*img.shape[:2])
    inside_x = (xs >= min(x0, x1)) & (xs <= max(x0, x1))
    img[inside_x & (ys >= min(y0, y1)) & (ys <= max(y0, y1))] = color


def draw_segment(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, width: float,
                 color: tuple[int, ...]) -> None:
    """Draw a thick line segment between pixels ``(x0, y0)`` and ``(x1, y1)``."""
    xs, ys = _grid(*img.shape[:2])
    dx, dy = x1 - x0, y1 - y0
    denom = dx * dx + dy * dy
    s = np.clip(((xs - x0) * dx + (ys - y0) * dy) / denom, 0.0, 1.0) if denom > 0 else 0.0
    dist2 = (xs - (x0 + s * dx)) ** 2 + (ys - (y0 + s * dy)) ** 2
    img[dist2 <= (width / 2) ** 2] = color


def navigation2d_frame(position: np.ndarray, goal: np.ndarray, size: int = 256,
                       extent: float = 1.0) -> np.ndarray:
    """Top view of the plane ``[-extent, extent]^2``: goal square, start cross and agent disc."""
    img = np.full((size, size, 3), WHITE, dtype=np.uint8)
    scale = size / (2 * extent)

    def px(p: np.ndarray) -> tuple[float, float]:
        p = np.clip(p, -extent, extent)
        return (float(p[0]) + extent) * scale, (extent - float(p[1])) * scale

    fill_rect(img, *px(np.array([-0.5, -0.5])), *px(np.array([0.5, 0.5])), (245, 245, 245))
    c = size / 2
    draw_segment(img, c - 6, c, c + 6, c, 2, GREY)
    draw_segment(img, c, c - 6, c, c + 6, 2, GREY)
    fill_circle(img, *px(goal), 7, GREEN)
    fill_circle(img, *px(position), 5, BLUE)
    return img


def cartpole_frame(state: np.ndarray, length: float, width: int = 600, height: int = 400,
                   x_threshold: float = 2.4) -> np.ndarray:
    """Side view of a cart-pole: track, cart and a pole of half-length ``length``."""
    img = np.full((height, width, 3), WHITE, dtype=np.uint8)
    scale = width / (2 * x_threshold)
    track_y = height * 0.75
    draw_segment(img, 0, track_y, width, track_y, 1, BLACK)
    cart_x = float(state[0]) * scale + width / 2
    cart_w, cart_h = 50.0, 30.0
    fill_rect(img, cart_x - cart_w / 2, track_y - cart_h / 2, cart_x + cart_w / 2,
              track_y + cart_h / 2, BLACK)
    theta = float(state[2])
    pole_len = min(scale * 2 * length, height)
    tip_x = cart_x + pole_len * np.sin(theta)
    tip_y = track_y - pole_len * np.cos(theta)
    draw_segment(img, cart_x, track_y, tip_x, tip_y, 10, ORANGE)
    fill_circle(img, cart_x, track_y, 5, (129, 132, 203))
    return img
