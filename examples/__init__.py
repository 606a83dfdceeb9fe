"""Small modules that the shipped specs and the documentation's scenarios point at."""
