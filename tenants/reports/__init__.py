"""Reports: monthly member statements (and, later, scheme dashboards and impact reports)."""
