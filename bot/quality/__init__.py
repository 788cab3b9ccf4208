"""Service-quality indicators, the review of misunderstood messages, early warnings (issue #8)."""
