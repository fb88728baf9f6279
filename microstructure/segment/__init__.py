"""segment stages (added by their issues)."""
