"""Reports of runs: statistics, summaries of adaptation curves, and plots, from CSV files."""
