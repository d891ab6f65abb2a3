"""The run record: what a run directory's files are called (`layout`), the record's typed
sections (`run_record`, mapped to JSON by `sections`) and its one reader and writer (`storage`).
Torch- and hydra-free: runs/ writes records with it, results/ reads them."""
