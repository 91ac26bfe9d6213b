"""asg-refresh benchmarks (``benchmarks/run.py``; docs/benchmarks.md)."""
