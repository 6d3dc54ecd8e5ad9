"""The one registry of blueprints, and the credential rule every API request meets.

Every route of the platform is on a blueprint listed here, API and pages
alike; :func:`register` is called once, by ``create_app``. Each API blueprint
declares its rule (:class:`timebank.platform.api.blueprint.Blueprint`:
``credentials`` and ``public``); :func:`require_credentials` applies it
before any view runs, so a scheme route meets the scheme gate before its
body is parsed. Page blueprints check sign-in themselves (``/s/<slug>/``
pages through ``scheme_blueprint``).
"""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Flask, current_app, request
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

from timebank.platform.api.blueprint import Blueprint as ApiBlueprint
from timebank.platform.billing import routes as billing
from timebank.platform.exchange import routes as exchange
from timebank.platform.identity import routes as identity
from timebank.platform.identity.auth import require_operator, require_user
from timebank.platform.operators import routes as operators
from timebank.platform.schemes import routes as schemes
from timebank.platform.web import routes as web
from timebank.platform.web.pages import (
    account,
    cards,
    court,
    court_orders,
    impact,
    listing_responses,
    listings,
    manage,
    manage_catalogue,
    manage_children,
    manage_dryrun,
    manage_groups,
    manage_ledger,
    manage_people,
    member,
    operator,
    organisation,
    partner_counter,
    partners,
    referral_pages,
    sandbox,
)
from timebank.platform.web.pages import wellbeing as wellbeing_pages
from timebank.tenants.access import guardian_gate, scheme_access
from timebank.tenants.courts import routes as courts
from timebank.tenants.earning import routes as earning
from timebank.tenants.groups import routes as groups
from timebank.tenants.ledger import public_routes as ledger_public
from timebank.tenants.ledger import routes as ledger
from timebank.tenants.marketplace import routes as marketplace
from timebank.tenants.memberships import import_routes as member_imports
from timebank.tenants.memberships import managed_routes as managed_members
from timebank.tenants.memberships import routes as members
from timebank.tenants.partners import routes as partner_api
from timebank.tenants.partners.services import partner_gate
from timebank.tenants.policy import routes as policy
from timebank.tenants.referrals import routes as referrals
from timebank.tenants.reports import dryrun_routes as dryrun
from timebank.tenants.reports import routes as reports
from timebank.tenants.spending import routes as spending
from timebank.tenants.wellbeing import routes as wellbeing
from timebank.worker import routes as jobs

API: tuple[ApiBlueprint, ...] = (
    identity.blp,
    schemes.blp,
    policy.blp,
    dryrun.blp,
    members.blp,
    members.invitations_blp,
    ledger.blp,
    ledger_public.blp,
    earning.blp,
    groups.blp,
    referrals.blp,
    referrals.links_blp,
    spending.blp,
    partner_api.blp,
    marketplace.blp,
    exchange.blp,
    operators.blp,
    member_imports.blp,
    managed_members.blp,
    managed_members.cards_blp,
    jobs.blp,
    billing.api_blp,
    courts.blp,
    reports.blp,
    wellbeing.blp,
)

# The coordinator's pages are one blueprint (``manage``) whose routes live in
# seven modules: ``manage`` and the six below add theirs to ``manage.bp``.
MANAGE_PAGE_MODULES = (
    manage,
    manage_catalogue,
    manage_children,
    manage_dryrun,
    manage_groups,
    manage_ledger,
    manage_people,
)
# Likewise the listings pages: ``listings`` and the conversations about them.
LISTING_PAGE_MODULES = (listings, listing_responses)
# And the youth court pages: sittings in ``court``, ordered hours in ``court_orders``.
COURT_PAGE_MODULES = (court, court_orders)

PAGES: tuple[FlaskBlueprint, ...] = (
    web.bp,
    account.bp,
    member.bp,
    listings.bp,
    manage.bp,
    court.bp,
    impact.bp,
    wellbeing_pages.bp,
    organisation.bp,
    partners.bp,
    partner_counter.bp,
    operator.bp,
    billing.bp,
    cards.bp,
    referral_pages.bp,
    referral_pages.public,
    sandbox.bp,
)

# Called by other services, not people: no CSRF token (they carry their own signature).
HOOKS: tuple[FlaskBlueprint, ...] = (billing.hooks,)

# flask-smorest's own blueprint serving the OpenAPI document.
PUBLIC_FOREIGN_ENDPOINTS = frozenset({"api-docs.openapi_json"})


def register(app: Flask, api: Api, csrf: CSRFProtect) -> None:
    for blueprint in API:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # the API authenticates by token or by session + JSON only
    for page in PAGES:
        app.register_blueprint(page)
    for hook in HOOKS:
        app.register_blueprint(hook)
        csrf.exempt(hook)
    app.before_request(require_credentials)


def require_credentials() -> None:
    """``before_request`` of the app: the declared rule of the API blueprint served."""
    if not request.path.startswith("/api/") or request.endpoint is None:
        return
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if not isinstance(blueprint, ApiBlueprint):
        if request.endpoint in PUBLIC_FOREIGN_ENDPOINTS:
            return
        require_user()
        return
    if request.endpoint in blueprint.public_endpoints:
        return
    if blueprint.credentials == "operator":
        require_operator()
        return
    slug = (request.view_args or {}).get("slug")
    if blueprint.credentials == "scheme" and slug is not None:
        if request.endpoint in blueprint.guardian_endpoints:
            guardian_gate(slug)  # a member, or a child's guardian
            return
        scheme_access(slug)  # 401, or 404 for a scheme the caller does not belong to
        return
    if blueprint.credentials == "partner" and slug is not None:
        partner_gate(slug, (request.view_args or {}).get("partner_id"))
        return
    require_user()
