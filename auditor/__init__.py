"""auditor: find, review and fix label errors in multilingual NER corpora."""

__version__ = "0.1.0"
