"""InfoLit web package."""
