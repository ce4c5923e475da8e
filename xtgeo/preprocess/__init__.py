"""Raw scenes → preprocessed scenes: ancillary resampling (:mod:`.ancillary`), distance to shore
(:mod:`.distance`), one block's bands (:mod:`.blocks`) and the scene jobs on Dask (:mod:`.run`)."""
