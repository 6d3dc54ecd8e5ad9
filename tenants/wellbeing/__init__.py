"""Wellbeing surveys (ONS4, SWEMWBS): answers, scores, and change between first and latest."""
