"""Training data: model input normalisation, targets from labels, augmentation, torchgeo crops."""
