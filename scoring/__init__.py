"""InfoLit scoring package."""
