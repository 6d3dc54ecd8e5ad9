"""Billing: plans, Stripe customers and subscriptions, webhooks, dunning, usage sync."""
