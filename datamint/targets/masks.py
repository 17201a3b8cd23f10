"""Decoded mask files to binary masks."""

from __future__ import annotations

import numpy as np

from datamint.exceptions import AnnotationError

__all__ = ["binarize_mask", "place_frame"]


def binarize_mask(array: np.ndarray, *, what: str) -> np.ndarray:
    """Reduce a decoded mask to one binary channel.

    A multi-channel mask whose channels are all equal (grey RGB/RGBA files) is reduced
    to one channel; the result is binarised with ``!= 0``.

    Args:
        array: Reader output, shape ``(C, N, H, W)``, any dtype.
        what: Names the annotation in error messages.

    Returns:
        uint8 array ``(N, H, W)`` of 0/1.

    Raises:
        AnnotationError: If the channels differ, or the array is not 4-D.
    """
    if array.ndim != 4:
        raise AnnotationError(f"{what}: expected a (C, N, H, W) mask, got shape {array.shape}")
    if array.shape[0] > 1:
        first = array[0]
        if not all(np.array_equal(first, array[c]) for c in range(1, array.shape[0])):
            raise AnnotationError(
                f"{what}: mask has {array.shape[0]} channels with different content; a mask "
                "file must be single-channel or grey (all channels equal)"
            )
    return (array[0] != 0).astype(np.uint8)


def place_frame(frame: np.ndarray, frame_index: int, depth: int, *, what: str) -> np.ndarray:
    """Put a 2-D frame mask at ``frame_index`` inside a zero volume.

    Args:
        frame: uint8 ``(H, W)`` or ``(1, H, W)``.
        frame_index: 0-based slice/frame index.
        depth: The resource's number of slices or frames.
        what: Names the annotation in error messages.

    Returns:
        uint8 ``(depth, H, W)``.

    Raises:
        AnnotationError: If ``frame_index`` is outside ``[0, depth)`` or the frame is not 2-D.
    """
    if frame.ndim == 3 and frame.shape[0] == 1:
        frame = frame[0]
    if frame.ndim != 2:
        raise AnnotationError(f"{what}: a frame mask must be 2-D, got shape {frame.shape}")
    if not 0 <= frame_index < depth:
        raise AnnotationError(
            f"{what}: frame_index {frame_index} is outside the resource's {depth} frames"
        )
    volume = np.zeros((depth, *frame.shape), dtype=np.uint8)
    volume[frame_index] = frame
    return volume
