"""Offers and requests between members: listings, responses, messages, exchanges."""
