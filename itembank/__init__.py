"""InfoLit itembank package."""
