"""xtgeo: dark-vessel detection in whole Sentinel-1 SAR scenes with xT nested tokenization."""

__version__ = "0.1.0"
