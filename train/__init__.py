"""TRL training and offline evaluation on releases."""
