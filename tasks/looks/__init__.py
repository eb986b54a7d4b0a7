"""Complete the look: which garments go together (outfit compatibility), learnt from the outfits
the model-photo library wears, and the looks the nightly drop publishes with it.

- ``outfits``: each ready library photo's top, bottom, dress and shoes, cut out by its parsing
  labels and embedded (``library/outfits.parquet``);
- ``model``: the compatibility model (one shared latent space, a contrastive loss per pair of
  parts);
- ``training``: real and modified outfits, training, the held-out evaluation and its baseline;
- ``store``: a trained model's weights and card in the bucket, found again by version.
"""
