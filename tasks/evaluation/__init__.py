"""Evaluating model versions on an evaluation set: paired SSIM and LPIPS, unpaired FID and KID,
time per image and the QC pass rate, per category (``tryon evaluate``, the ``evaluate`` DAG)."""
