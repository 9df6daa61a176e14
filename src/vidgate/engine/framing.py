"""Fitting source pictures to the output frame."""

from __future__ import annotations


def cover_box(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[float, float, float, float]:
    """The centred (left, top, right, bottom) crop of a src_w x src_h picture that has the
    destination's aspect ratio: scaling that crop to dst_w x dst_h fills the frame with no
    bars and no distortion ("cover"), losing only the overflowing edges.

    >>> cover_box(1920, 1080, 720, 720)
    (420.0, 0.0, 1500.0, 1080.0)
    """
    target = dst_w / dst_h
    if src_w / src_h > target:  # wider than the frame: cut the sides
        crop_w = src_h * target
        left = (src_w - crop_w) / 2
        return left, 0.0, left + crop_w, float(src_h)
    crop_h = src_w / target  # taller (or equal): cut top and bottom
    top = (src_h - crop_h) / 2
    return 0.0, top, float(src_w), top + crop_h
