"""Chat-neutral pieces every chat platform can use: the ready-tweet pool and the generation engine."""
