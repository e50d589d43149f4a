"""The disaster drill: two regions of real inference servers behind the gateway's nginx, a load
generator that checks every answer, a region loss in the middle, and a report of what clients saw.

Run it with ``python -m bench.drill`` (``make drill``); ``runner.run_drill`` is the same drill as
a function.
"""
