"""GTSRB on disk: the official layout, the synthetic stand-in, TFRecords and readers."""
