"""A campaign's review model: what its reviewers approve, learned from their decisions and used
by the editor to rank campaign candidates. scikit-learn only while training."""
