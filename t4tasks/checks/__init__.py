"""Gates and the validation checkpoint: they compare, never produce."""
