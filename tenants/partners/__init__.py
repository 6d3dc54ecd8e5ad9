"""Partner organisations: the clinic, the college, the food store that accept credits."""
