"""Billing: plans, Stripe customers and subscriptions, webhooks, dunning, usage sync.

``plans`` (configuration, billing rows, the member limit, operators' plan
changes) <- ``customers`` (Stripe access, customers, cards) <- ``dunning`` <-
``subscriptions``, ``usage``, ``webhooks``; ``jobs`` and ``routes`` call them.
"""
