"""InfoLit reports package."""
