"""The report's tables: the swept axes (`axes`), a table of cells over them with seed statistics
(`result_tables`, `seed_noise`), and its renderings (`render`)."""
