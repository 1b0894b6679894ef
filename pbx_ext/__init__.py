"""pbx-ext: an office PBX built as a Python extension of Asterisk."""

__version__ = "0.1.0"
