"""Load benchmark of the real stack (`make bench`); see README, "Benchmarks"."""
