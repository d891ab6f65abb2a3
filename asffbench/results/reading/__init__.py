"""Reading run directories and records: each record read once (`record.storage`) and flattened
into a row (`records`), every record under some sweeps (`collect`), what compare, analyze and the
intervals read from a run directory (`run_inputs`), and the paper's figures (`paper_reference`)."""
