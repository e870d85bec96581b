"""Shipped target profiles: data files only, each citing its source."""
