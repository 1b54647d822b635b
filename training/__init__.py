"""Training core: datasets, AE/VAE models, losses, the fit loop, evaluation, checkpoints, CLI."""
