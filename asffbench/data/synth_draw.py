"""Drawing one image of the synthetic tiny COCO: backgrounds, shapes, clutter.

Each object is rendered through its own mask, so its box is the mask's tight box and its area
the mask's pixel count (like COCO's segmentation area).
"""

from __future__ import annotations

import colorsys
import math
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES = ("circle", "square", "triangle", "star", "cross", "ring")
# Typical hue (degrees) of each class: colour is a strong but not perfect cue (see RANDOM_HUE_PROB).
CLASS_HUES = (0.0, 120.0, 220.0, 55.0, 295.0, 180.0)
RANDOM_HUE_PROB = 0.25

# Side lengths (px) of the box an object is drawn in, per COCO size range.
SIZE_RANGES = {"small": (10, 30), "medium": (36, 90), "large": (104, 210)}
SIZE_PROBS = {"small": 0.4, "medium": 0.38, "large": 0.22}
MIN_IMAGE_SIZE = 160
NEGATIVE_PROB = 0.05  # images with clutter only
MAX_OBJECTS = 8


def hsv_colour(hue_deg: float, sat: float, val: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, sat, val)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """An (H, W, 3) float array in 0..255: gradient, smooth noise or stripes, plus pixel noise."""
    kind = rng.integers(3)
    base = np.array(hsv_colour(rng.uniform(0, 360), rng.uniform(0, 0.5), rng.uniform(0.3, 0.9)))
    other = np.array(hsv_colour(rng.uniform(0, 360), rng.uniform(0, 0.5), rng.uniform(0.3, 0.9)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 0:  # linear gradient at a random angle
        angle = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(angle) + yy * math.sin(angle))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    elif kind == 1:  # smooth value noise: a coarse random grid, bilinearly upsampled
        cells = int(rng.integers(3, 9))
        grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        t = np.asarray(grid.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
    else:  # stripes or checks of random period and angle
        period = rng.uniform(6, 40)
        angle = rng.uniform(0, math.pi)
        u = (xx * math.cos(angle) + yy * math.sin(angle)) * size / period
        t = (np.floor(u) % 2).astype(np.float32)
        if rng.random() < 0.5:
            v = (-xx * math.sin(angle) + yy * math.cos(angle)) * size / period
            t = np.abs(t - (np.floor(v) % 2))
        t = 0.5 + (t - 0.5) * rng.uniform(0.2, 0.8)  # low contrast
    image = base[None, None, :] * (1 - t[..., None]) + other[None, None, :] * t[..., None]
    image += rng.normal(0.0, rng.uniform(0, 8), size=image.shape)
    return np.clip(image, 0, 255)


def regular_polygon(n: int, radius: float, rotation: float, inner: Optional[float] = None):
    """Vertices around (0, 0); with `inner`, a star alternating radius and inner radius."""
    points = []
    count = 2 * n if inner is not None else n
    for k in range(count):
        r = inner if inner is not None and k % 2 else radius
        a = rotation + 2 * math.pi * k / count
        points.append((r * math.cos(a), r * math.sin(a)))
    return points


def shape_mask(rng: np.random.Generator, cls: str, side: int) -> Image.Image:
    """A side x side 'L' mask of one object of class `cls` (255 inside)."""
    pad = 2
    box = side + 2 * pad
    # Draw 4x larger and downsample: smooth edges, and a mask that matches the pixels drawn.
    scale = 4
    big = Image.new("L", (box * scale, box * scale), 0)
    draw = ImageDraw.Draw(big)
    cx = cy = box * scale / 2
    r = side * scale / 2
    sx, sy = (1.0, rng.uniform(0.7, 1.0)) if rng.random() < 0.5 else (rng.uniform(0.7, 1.0), 1.0)
    rot = rng.uniform(0, 2 * math.pi)

    def place(points):
        c, s = math.cos(rot), math.sin(rot)
        out = []
        for x, y in points:
            x, y = x * sx, y * sy
            out.append((cx + x * c - y * s, cy + x * s + y * c))
        return out

    if cls == "circle":
        draw.ellipse([cx - r * sx, cy - r * sy, cx + r * sx, cy + r * sy], fill=255)
    elif cls == "ring":
        draw.ellipse([cx - r * sx, cy - r * sy, cx + r * sx, cy + r * sy], fill=255)
        k = rng.uniform(0.45, 0.65)
        draw.ellipse([cx - k * r * sx, cy - k * r * sy, cx + k * r * sx, cy + k * r * sy], fill=0)
    elif cls == "square":
        draw.polygon(place(regular_polygon(4, r * 1.0, math.pi / 4)), fill=255)
    elif cls == "triangle":
        draw.polygon(place(regular_polygon(3, r, -math.pi / 2)), fill=255)
    elif cls == "star":
        draw.polygon(place(regular_polygon(5, r, -math.pi / 2, inner=r * rng.uniform(0.38, 0.5))), fill=255)
    elif cls == "cross":
        w = r * rng.uniform(0.28, 0.4)
        arm = [(-r, -w), (r, -w), (r, w), (-r, w)]
        draw.polygon(place(arm), fill=255)
        draw.polygon(place([(y, x) for x, y in arm]), fill=255)
    else:
        raise ValueError(f"unknown class {cls}")
    return big.resize((box, box), Image.LANCZOS).point(lambda v: 255 if v >= 128 else 0)


def object_fill(rng: np.random.Generator, cls_index: int, h: int, w: int) -> np.ndarray:
    """(h, w, 3) colours of an object: solid, striped or two-tone, near the class hue."""
    hue = CLASS_HUES[cls_index] + rng.uniform(-15, 15)
    if rng.random() < RANDOM_HUE_PROB:
        hue = rng.uniform(0, 360)
    main = np.array(hsv_colour(hue, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)), dtype=np.float32)
    dark = main * rng.uniform(0.45, 0.7)
    style = rng.random()
    fill = np.broadcast_to(main, (h, w, 3)).copy()
    if style < 0.2:  # stripes
        period = max(3.0, rng.uniform(0.15, 0.3) * max(h, w))
        yy, xx = np.mgrid[0:h, 0:w]
        stripe = (np.floor((xx + yy * rng.uniform(-1, 1)) / period) % 2).astype(bool)
        fill[stripe] = dark
    elif style < 0.35:  # vertical shading
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        fill = main * (1 - t) + dark * t
    return fill


def paste(canvas: np.ndarray, mask: np.ndarray, colours: np.ndarray, x: int, y: int) -> None:
    h, w = mask.shape
    region = canvas[y : y + h, x : x + w]
    m = (mask > 0)[..., None]
    region[...] = np.where(m, colours, region)


def draw_clutter(rng: np.random.Generator, image: Image.Image, count: int) -> None:
    """Distractors that are not objects: lines, irregular blobs, dotted arcs."""
    draw = ImageDraw.Draw(image)
    size = image.size[0]
    for _ in range(count):
        colour = hsv_colour(rng.uniform(0, 360), rng.uniform(0, 0.6), rng.uniform(0.2, 1.0))
        kind = rng.integers(3)
        if kind == 0:
            p = rng.uniform(0, size, 4)
            draw.line([p[0], p[1], p[2], p[3]], fill=colour, width=int(rng.integers(1, 4)))
        elif kind == 1:
            cx, cy = rng.uniform(0, size, 2)
            n = int(rng.integers(5, 10))
            radius = rng.uniform(4, 22)
            angles = np.sort(rng.uniform(0, 2 * math.pi, n))
            radii = radius * rng.uniform(0.4, 1.0, n)
            draw.polygon([(cx + a * math.cos(t), cy + a * math.sin(t)) for a, t in zip(radii, angles)], fill=colour)
        else:
            cx, cy = rng.uniform(0, size, 2)
            radius = rng.uniform(8, 40)
            start = rng.uniform(0, 2 * math.pi)
            for k in range(int(rng.integers(4, 10))):
                t = start + k * 0.35
                x, y = cx + radius * math.cos(t), cy + radius * math.sin(t)
                draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)


def too_much_overlap(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    """Overlaps are wanted, but an object must stay mostly visible and distinguishable."""
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    for ox1, oy1, ox2, oy2 in others:
        iw = min(x2, ox2) - max(x1, ox1)
        ih = min(y2, oy2) - max(y1, oy1)
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        other_area = (ox2 - ox1) * (oy2 - oy1)
        if inter / (area + other_area - inter) > 0.3 or inter / min(area, other_area) > 0.45:
            return True
    return False


def render_image(seed: int, index: int, size: int) -> tuple[Image.Image, list[dict]]:
    """One image and its objects: [{"category": k, "bbox": [x, y, w, h], "area": n}]."""
    rng = np.random.default_rng([seed, index])
    canvas = Image.fromarray(draw_background(rng, size).astype(np.uint8))
    draw_clutter(rng, canvas, int(rng.integers(3, 13)))
    pixels = np.array(canvas)
    objects: list[dict] = []
    placed: list[tuple[int, int, int, int]] = []
    count = 0 if rng.random() < NEGATIVE_PROB else int(rng.integers(2, MAX_OBJECTS + 1))
    ranges = list(SIZE_PROBS)
    probs = np.array([SIZE_PROBS[k] for k in ranges])
    large_left = 2
    for _ in range(count):
        range_name = ranges[rng.choice(len(ranges), p=probs)]
        if range_name == "large":
            if large_left <= 0:
                range_name = "medium"
            large_left -= 1
        lo, hi = SIZE_RANGES[range_name]
        side = int(rng.integers(lo, min(hi, int(size * 0.7)) + 1))
        cls_index = int(rng.integers(len(CLASS_NAMES)))
        mask_img = shape_mask(rng, CLASS_NAMES[cls_index], side)
        bx1, by1, bx2, by2 = mask_img.getbbox() or (0, 0, 1, 1)
        mask = np.asarray(mask_img)[by1:by2, bx1:bx2]
        h, w = mask.shape
        if w >= size or h >= size:
            continue
        for _attempt in range(20):
            x = int(rng.integers(0, size - w + 1))
            y = int(rng.integers(0, size - h + 1))
            if not too_much_overlap((x, y, x + w, y + h), placed):
                break
        else:
            continue
        paste(pixels, mask, object_fill(rng, cls_index, h, w), x, y)
        placed.append((x, y, x + w, y + h))
        objects.append({"category": cls_index, "bbox": [x, y, w, h], "area": int(np.count_nonzero(mask))})
    image = Image.fromarray(pixels)
    draw_clutter(rng, image, int(rng.integers(0, 3)))  # a few distractors on top of objects
    return image, objects
