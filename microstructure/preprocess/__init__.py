"""preprocess stages (added by their issues)."""
