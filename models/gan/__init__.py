"""The image model: a DCGAN for small image sets, its training, grids, metrics and feature extractor."""
