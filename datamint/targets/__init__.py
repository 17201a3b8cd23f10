"""Annotations to training targets: pure functions on arrays, no I/O.

``masks`` normalises decoded mask files (channel reduction, ``!= 0``, frame placement),
``encode`` turns instances into semantic one-hot arrays, multi-hot labels and boxes,
``merge`` combines several annotators (``union`` / ``intersection`` / ``mode``).
"""
