"""Measurements and probes of the AI codec that shipped nothing (see training/aicodec/README.md)."""
