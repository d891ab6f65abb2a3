"""The report (`report_writer`) and its sections: methods, failed and missing runs (`gaps`), the
budget, runtimes, fusion and edge weights, the error analysis, and the figures. A section imports
the library below it, never a command module (`results.compare`, `results.analyze`)."""
