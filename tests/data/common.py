"""What the data tests share: the smoke config with small crops."""

from xtgeo.config import Config, load_config

CROP = 128


def config(**data) -> Config:
    """The smoke config with ``CROP``-pixel crops, one validation scene and ``data`` overrides."""
    overrides = [f"data.{k}={v}" for k, v in {"crop_size": CROP, "val_scenes_count": 1, **data}.items()]
    return load_config("configs/smoke.yaml", overrides)
