"""Training on top of the core: shapes data, a small trainer, evaluation, the Lightning callback, several devices."""
