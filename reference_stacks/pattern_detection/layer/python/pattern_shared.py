"""Shared settings for the pattern-detection functions, deployed as the `shared-dependencies` layer.

Lambda puts a layer's ``python/`` folder on ``sys.path``; the handlers keep their
own copies of these values so each handler file stays self-contained.
"""

LAYER_VERSION = "1.0.0"
METRICS_NAMESPACE = "StockPatternDetection"
PATTERN_TYPES = ("head-and-shoulders", "double-top", "ascending-triangle")
SEVERITY_PRIORITY = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
