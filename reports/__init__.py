"""Reference data shipped with asffbench (the paper's published figures)."""
