"""Local storage: atomic writes, per-key locks, cache layout and caches.

Nothing here talks to the network or decodes images; it moves bytes and arrays
between memory and a cache root, safely for several processes at once.
"""
