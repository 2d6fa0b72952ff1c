"""The embedding-space conditional GAN: ``model.py`` (networks and training, read top to bottom) and
``generator.py`` (the ``gan`` generator: encoding, pretraining cache, fine-tuning, sampling)."""
