"""The persona char-GRU: vocabulary, network, training, NumPy sampling and candidate selection.

TensorFlow-free (the bot imports these): `vocab`, `config`, `data` (TensorFlow only inside
`windows`), `ngram`, `lexicon`, `gru_step`, `compiled`, `sampler`, `editor`, `select`,
`artifact` and `serving`. `network`, `cpu_gru`, `evaluation`, `callbacks` and `train` import
TensorFlow and are imported by the commands that train.
"""
