"""Training: data, losses, feature networks, and the distill / perceptual / paired loops."""
