"""The dialplan side of pbx-ext: extensions.conf generation (and, later, FastAGI)."""
