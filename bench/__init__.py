"""The benchmark (run by hand): `python bench/bench.py --help`."""
