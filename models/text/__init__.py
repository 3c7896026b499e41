"""The persona char-GRU: vocabulary, network, training, NumPy sampling and candidate selection.

Only `vocab`, `config`, `sampler` and `select` are TensorFlow-free; `network`, `data` and
`train` import TensorFlow and are imported by the commands that train.
"""
