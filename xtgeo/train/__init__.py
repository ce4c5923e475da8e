"""Training: the loop (:mod:`.trainer`), losses, optimiser, checkpoints and the run folder, run logs,
and the process group of a distributed run."""
