"""Running a module's tests in isolation: coverage, benchmarks, smoke; plain values out."""
