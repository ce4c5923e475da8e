"""Synthetic Sentinel-1 scenes in the xView3 layout, with labels decided by scene context.

``make_dataset(out_dir, scenes=N, height=H, width=W, seed=S)`` writes, deterministically for S::

    out_dir/<scene_id>/{VV_dB,VH_dB,bathymetry,owiMask,owiWindSpeed,owiWindDirection,owiWindQuality}.tif
    out_dir/shoreline/<scene_id>_shoreline.npy
    out_dir/labels.csv

What a scene holds: a coast (land 8–30 %, bays, islands, walled harbours), bathymetry deepening
offshore, a smooth wind field, a slanted nodata swath edge, gamma speckle on wind-driven sea
clutter (:mod:`.rasters`), and objects that all look alike: bright compact scatterers sized by
their length (10–300 m) and turned to their heading (:mod:`.footprint`). Not every bright point
target is labelled: coastal clutter (rule 3) is drawn like a vessel and left out of ``labels.csv``
on purpose. Counts, class balance, sources, confidences, lengths, missing values and distances to
shore of the labels follow the real xView3 validation labels (:mod:`.stats`); counts scale with
sqrt(scene area / full xView3 scene area).

Context rules: whether a target is labelled, and as what, depends on where it is, never on how it looks
-------------------------------------------------------------------------------------------------------
1. **Harbours.** Everything inside a harbour basin is a vessel, and not fishing.
2. **Rocks.** Outside harbours, every object within 0.5 km of land (``ROCK_ZONE_KM``) is a
   labelled non-vessel (rocks, marks); no vessel is placed there. Rocks take the real
   non-vessels' whole share within 2 km of land, since rule 3 leaves no labelled non-vessel in
   the coastal band.
3. **Anchorages and coastal clutter.** Outside harbours, in the *coastal band* 0.5–2 km from land
   (``COASTAL_BAND_KM``, the xView3 close-to-shore distance), a bright point target is a labelled
   vessel at anchor, not fishing, iff a harbour (basin and breakwaters, both visible in the image)
   lies within 10 km in a straight line (``PORT_REACH_KM``). Otherwise it is *clutter* (a rock
   awash, a reef, a wreck, a sea-clutter spike): not an xView3 object, in no label, so a
   detection on it is a false positive. Band targets lie 7.5–9 km from the nearest harbour
   (``APPROACH_CLEAR_KM``: the approach is kept clear) or at least 11 km from every harbour
   (``REMOTE_COAST_KM``; a scene without harbours is all remote coast). 7.5 km = 750 px > 512·√2 px,
   so no 512 × 512 px window ever holds both a band target and any pixel of a harbour: whether a
   target 0.5–2 km from land must be *detected at all* is decided by evidence at least one region
   away, which only scene context shows; this is what moves close-to-shore F1, a detection score.
   Vessels at anchor and clutter look alike (lengths from the ``vessel`` group, ``COASTAL_LOOK``,
   brightness and shape from the same footprint model), and a scene holds on average as much
   clutter as the real labels put vessels in the band (about 11 % of its object count).
4. **Infrastructure lattices.** Objects on the nodes of a regular lattice spanning kilometres
   are non-vessels: wind farms (2–9 × 2–9 nodes, 0.8–1.2 km apart, in shallow water < 40 m) and
   oil fields (2–4 × 2–4 nodes, 1.5–3 km apart, in deep water > 200 m), beyond the coastal band;
   a lattice keeps at least 4 nodes. Vessels stay at least a third of the spacing away from any
   node. A lattice is seen as such only across several 512 px regions.
5. **Everything else is a vessel** (beyond the coastal band). Whether it fishes:
   - in the **shipping lane** (a straight band 1.5–3 km wide crossing the whole scene; its
     vessels head along it) a vessel is not fishing;
   - outside the lane, a vessel is fishing iff the water depth (``bathymetry.tif`` cell) is in
     40–200 m (``FISHING_DEPTH_M``), the fishing band, which lies kilometres offshore.
   Objects are kept at least 10 % (of the threshold) away from every rule's boundary, so each
   rule decides cleanly.
6. **Missing labels** are drawn as in the real data, independently of position: ``is_fishing``
   is known for a third of vessels, ``is_vessel`` is missing for 0.6 % of objects (LOW
   confidence), lengths are mostly missing for non-vessels.

``distance_from_shore_km`` is the exact distance to the nearest land pixel (the shoreline
contours), and the official sentinel 9999.99 beyond 10 km, as in the real labels.
"""

from xtgeo.scene.prepared import SHORELINE_DIR
from xtgeo.synth.make import (
    LABELS_FILE,
    SyntheticScene,
    make_dataset,
    make_scene,
    scene_id_for,
    scene_seeds,
    write_labels,
)
from xtgeo.synth.objects import (
    APPROACH_CLEAR_KM,
    CLUTTER,
    COASTAL_BAND_KM,
    FISHING_DEPTH_M,
    PORT_REACH_KM,
    REMOTE_COAST_KM,
    ROCK_ZONE_KM,
)

__all__ = [
    "APPROACH_CLEAR_KM",
    "CLUTTER",
    "COASTAL_BAND_KM",
    "FISHING_DEPTH_M",
    "LABELS_FILE",
    "PORT_REACH_KM",
    "REMOTE_COAST_KM",
    "ROCK_ZONE_KM",
    "SHORELINE_DIR",
    "SyntheticScene",
    "make_dataset",
    "make_scene",
    "scene_id_for",
    "scene_seeds",
    "write_labels",
]
