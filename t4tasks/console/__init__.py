"""What a long run prints while it works."""
