"""InfoLit assess package."""
