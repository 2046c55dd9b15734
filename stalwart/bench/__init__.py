"""Benchmarks behind ``stalwart bench``: each compares against plain Celery in the same run.

One module per benchmark; results and the commands that made them go in
``docs/PERFORMANCE.md``. Benchmarks are measurements, not tests: nothing here asserts
a timing.
"""
