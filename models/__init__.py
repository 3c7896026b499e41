"""TensorFlow models, training, sampling, metrics and the model registry. Never imports `bot`."""
