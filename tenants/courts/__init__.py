"""Youth courts: sittings with a rota of roles, and hours ordered by a court or panel."""
