"""How well outputs follow their drawings (NumPy only): edge F1 with a pixel tolerance for
sketches, mean IoU against the palette for label maps. The same measure of the real photo
against its own drawing is the upper bound a model can be compared with."""

from __future__ import annotations

import numpy as np

from models.draw.pairs import dilate, label_maps, lines, palette_for

TOLERANCE = 2  # pixels: a line drawn two pixels off still counts as followed


def edge_f1(drawn: np.ndarray, found: np.ndarray, tolerance: int = TOLERANCE) -> float:
    """F1 of the lines `found` in outputs against the lines `drawn` (bool (n, h, w) each), a
    pixel counting as matched within `tolerance` pixels; pooled over all images."""
    near_drawn, near_found = dilate(drawn, tolerance), dilate(found, tolerance)
    precision = (found & near_drawn).sum() / max(found.sum(), 1)
    recall = (drawn & near_found).sum() / max(drawn.sum(), 1)
    return float(2 * precision * recall / max(precision + recall, 1e-12))


def mean_iou(expected: np.ndarray, got: np.ndarray, classes: int) -> float:
    """IoU per class between two label maps (n, h, w), pooled over images, averaged over the
    classes present in either."""
    scores = []
    for label in range(classes):
        a, b = expected == label, got == label
        union = (a | b).sum()
        if union:
            scores.append((a & b).sum() / union)
    return float(np.mean(scores)) if scores else 1.0


def follow_score(drawings: np.ndarray, images: np.ndarray, mode: str, style: str) -> float:
    """How well uint8 `images` (n, h, w, c) follow their drawings: edge F1 of their own lines
    against the sketch's ink (sketch mode), or mean IoU of their re-quantised palette map
    against the label map (label mode)."""
    if mode == "labels":
        palette = palette_for(images.shape[-1])
        return mean_iou(drawings, label_maps(images, palette), len(palette))
    return edge_f1(drawings[..., 0] < 128, lines(images, style))
