"""TIDE's error analysis: detections typed by error (`error_types`), scored with each fix on the
resamples (`error_bootstrap`), one or two sides analysed (`analysis`), shown as text tables
(`error_tables`)."""
