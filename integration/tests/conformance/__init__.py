"""The conformance suite: what every connector must do the same way (see README.md)."""
