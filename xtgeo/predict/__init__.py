"""Whole-scene prediction: scene sources, tiling, inference, post-processing, detection files, and
:mod:`.scene` (a checkpoint's model and one scene's detections)."""
