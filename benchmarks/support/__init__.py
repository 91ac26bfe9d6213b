"""What the benchmark sections share: the call log, the local app, the watch runs, the output."""
