"""What an object looks like in the image: one bright compact scatterer, whatever its class.

The footprint is an elongated Gaussian whose half-power length and width follow the object's
size and heading, with mild texture (the centre pixel keeps the exact peak and stays the brightest) and, for very bright
targets, faint range/azimuth sidelobes. Vessels, turbines, platforms and rocks all use this same
model with overlapping sizes and brightness, so appearance alone cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xtgeo.synth.geo import PIXEL_SIZE_M

#: Box edge: pixels brighter than the peak times this (−10 dB) belong to the object.
BOX_LEVEL = 0.1
#: Equivalent number of looks of the texture on bright objects.
OBJECT_LOOKS = 10.0
#: Peak (dB) above which sidelobes are drawn, their relative level and reach (pixels).
SIDELOBE_PEAK_DB, SIDELOBE_LEVEL, SIDELOBE_REACH = 15.0, 10 ** (-2.6), 12


@dataclass(frozen=True)
class Footprint:
    """Linear-intensity patches centred on the object pixel, and its box offsets (half-open)."""

    radius: int
    vv: np.ndarray
    vh: np.ndarray
    box: tuple[int, int, int, int]  # top, left, bottom, right offsets from the centre pixel


def footprint(length_m: float, aspect: float, heading_deg: float, peak_db: float, vh_drop_db: float,
              seed: int) -> Footprint:
    """The footprint of one object (deterministic for its parameters and seed)."""
    length_px = max(length_m / PIXEL_SIZE_M, 1.0)
    width_px = max(length_m / aspect / PIXEL_SIZE_M, 0.8)
    bright = peak_db >= SIDELOBE_PEAK_DB
    radius = int(np.ceil(length_px)) + 2
    if bright:
        radius = max(radius, SIDELOBE_REACH)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    dr, dc = offsets[:, None], offsets[None, :]
    heading = np.deg2rad(heading_deg)
    along = -dr * np.cos(heading) + dc * np.sin(heading)
    across = dr * np.sin(heading) + dc * np.cos(heading)
    shape = np.exp(-4.0 * np.log(2.0) * ((along / length_px) ** 2 + (across / width_px) ** 2))
    rows, cols = np.nonzero(shape >= BOX_LEVEL)
    box = (int(rows.min()) - radius, int(cols.min()) - radius, int(rows.max()) - radius + 1,
           int(cols.max()) - radius + 1)
    if bright:
        arm = SIDELOBE_LEVEL / (1.0 + (offsets / 2.0) ** 2)
        shape[radius, :] += arm
        shape[:, radius] += arm
    texture = np.random.default_rng(seed).standard_gamma(OBJECT_LOOKS, shape.shape) / OBJECT_LOOKS
    texture[radius, radius] = 1.0
    peak = 10 ** (peak_db / 10.0)
    vv = np.minimum(peak * shape * texture, peak * 0.95)
    vv[radius, radius] = peak
    vv = vv.astype(np.float32)
    return Footprint(radius, vv, vv * np.float32(10 ** (-vh_drop_db / 10.0)), box)
