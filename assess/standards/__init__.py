"""The reporting scale as a stored, versioned setting, and the bookmark standard setting that revises it."""
