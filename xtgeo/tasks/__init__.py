"""Task specs: what each output head of the model is, and how it is trained and read."""
