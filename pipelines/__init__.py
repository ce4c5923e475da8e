"""Stage orchestration for the xtgeo CLI: one module per stage."""
