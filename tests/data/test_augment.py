"""Augmentation: every symmetry moves the image and its targets alike."""

import torch

from xtgeo.data.augment import SYMMETRIES, augment_sample, dihedral


def test_every_symmetry_moves_image_and_targets_alike():
    image = torch.zeros(3, 16, 16)
    image[:, 2, 5] = 1.0
    sample = {"image": image, "center": image[:1].clone(), "vessel": image[1:2].clone()}
    seen = set()
    for code in range(SYMMETRIES):
        out = augment_sample(sample, code)
        assert torch.equal(out["image"][:1], out["center"]) and torch.equal(out["image"][1:2], out["vessel"])
        seen.add(tuple(torch.nonzero(out["center"][0])[0].tolist()))
    assert len(seen) == SYMMETRIES  # eight distinct placements: all flips and rotations
    assert torch.nonzero(dihedral(image[0], 2)).tolist() == [[13, 10]]  # 180°: (r, c) → (H-1-r, W-1-c)
