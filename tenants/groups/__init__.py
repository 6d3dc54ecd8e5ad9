"""School groups: classes, houses and other named groups of members, awarded to at once."""
