"""Bootstrap intervals: the image resampling and its metrics (`bootstrap`), a run's matching
(`matching`), paired and seed-level comparison (`significance`), and every table cell's interval
against its baseline (`cell_intervals`)."""
