"""Scenes on disk: raw xView3 scenes (:mod:`.raw`), preprocessed scenes (:mod:`.prepared`) and
official-format shoreline files (:mod:`.shoreline`)."""
