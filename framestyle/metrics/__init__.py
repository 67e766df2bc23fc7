"""Metrics: fidelity (PSNR/SSIM), temporal warping error, speed."""
