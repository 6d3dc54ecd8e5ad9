"""Children in a scheme: age bands, a guardian's consent, and what minors may do.

A member's age comes from ``date_of_birth`` (the band is derived from it) or
from ``age_band`` alone; a member with neither counts as an adult. The policy's
``minors`` section says below which age a guardian's consent is needed
(``consent_below_age``), whether minors may pay or be paid directly
(``peer_transfers``) and how many minutes a minor may earn a day
(``max_minutes_per_day``: claims of the day, and awards and a sitting's credits
on the day they are credited). An activity marked ``with_children`` credits an
adult only with a safeguarding check that has not expired.

These are the live rules: the earning services (claims, approvals, awards) and
the ledger's peer transfers call them, so every refusal names its rule
(``guardian_consent_required``, ``minor_transfers_disabled``,
``minor_daily_limit``, ``check_expired``). Low in the layers (policy): it
reads memberships and activities as rows only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from timebank.platform.api.errors import ApiError, RuleViolation
from timebank.platform.db import db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.earning.models import Activity, Claim
from timebank.tenants.ledger.models import Account, Posting, Transaction
from timebank.tenants.memberships.models import GuardianConsent, Member, SafeguardingCheck
from timebank.tenants.policy.services import current_policy

# The ages of each band: what "under N" is decided from without a birthday.
_BAND_RANGES = {"under_11": (0, 10), "11_15": (11, 15), "16_17": (16, 17), "adult": (18, 200)}


def age_on(date_of_birth: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - int(before_birthday)


def band_for_age(age: int) -> str:
    if age < 11:
        return "under_11"
    if age < 16:
        return "11_15"
    if age < 18:
        return "16_17"
    return "adult"


def age_band(member: Member, today: date | None = None) -> str | None:
    """The member's band (``None``: not recorded, treated as an adult)."""
    if member.date_of_birth is not None:
        return band_for_age(age_on(member.date_of_birth, today or date.today()))
    return member.age_band


def is_minor(member: Member, today: date | None = None) -> bool:
    band = age_band(member, today)
    return band is not None and band != "adult"


def needs_consent(member: Member, policy: dict[str, Any], today: date | None = None) -> bool:
    """Under the policy's ``consent_below_age`` (a band counts when all of it is below)."""
    below = int(policy["minors"]["consent_below_age"])
    if member.date_of_birth is not None:
        return age_on(member.date_of_birth, today or date.today()) < below
    if member.age_band is None:
        return False
    # A band that straddles the age (16–17 with consent below 17) needs consent: safer.
    return _BAND_RANGES[member.age_band][0] < below


def latest_consents(member_ids: Iterable[int]) -> dict[int, bool]:
    """Member id → the latest consent (given or withdrawn) recorded for them."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(GuardianConsent.member_id, GuardianConsent.given)
        .where(GuardianConsent.member_id.in_(ids))
        .order_by(GuardianConsent.member_id, GuardianConsent.at, GuardianConsent.id)
    ).all()
    return {member_id: given for member_id, given in rows}


def consent_state(
    member: Member, policy: dict[str, Any], latest: dict[int, bool] | None = None
) -> str:
    """``not_needed``, ``required`` (none recorded yet), ``given`` or ``withdrawn``."""
    if not needs_consent(member, policy):
        return "not_needed"
    consents = latest if latest is not None else latest_consents([member.id])
    if member.id not in consents:
        return "required"
    return "given" if consents[member.id] else "withdrawn"


def _members(member_ids: Sequence[int]) -> list[tuple[Member, str]]:
    return [
        (member, name)
        for member, name in db.session.execute(
            select(Member, User.name)
            .join(User, User.id == Member.user_id)
            .where(Member.id.in_(sorted(set(member_ids))))
        ).all()
    ]


def check_may_earn(
    scheme: Scheme,
    member_ids: Sequence[int],
    activity: Activity,
    *,
    field: str = "member_id",
    performed_on: date | None = None,
    minutes: int = 0,
) -> None:
    """Refuse crediting any of these members for ``activity``, naming the rule.

    422 ``guardian_consent_required`` (a minor without a guardian's consent),
    ``check_expired`` (an adult, ``with_children`` activity, no valid check) or
    ``minor_daily_limit``; for several members (an award) nobody is credited.
    """
    policy = current_policy(scheme)
    members = _members(member_ids)
    consents = latest_consents(m.id for m, _ in members if needs_consent(m, policy))
    today = performed_on or date.today()
    if policy["minors"]["approved_activities_only"] and not activity.minors_allowed:
        barred = [(m, name) for m, name in members if is_minor(m, today)]
        if barred:
            raise _refusal(
                f"“{activity.name}” is not an activity for children in {scheme.name}: "
                f"{', '.join(name for _, name in barred)} cannot be credited for it. A "
                "coordinator can mark it “Children may earn by it”. Nobody was credited.",
                code="activity_not_for_minors",
                field=field,
                member_ids=[m.id for m, _ in barred],
            )
    no_consent = [
        (m, name) for m, name in members if consent_state(m, policy, consents) in _REFUSED
    ]
    if no_consent:
        names = ", ".join(name for _, name in no_consent)
        raise _refusal(
            f"No guardian's consent is recorded for {names}: a child under "
            f"{policy['minors']['consent_below_age']} earns nothing until a guardian gives "
            "consent (invite one from the member's page). Nobody was credited.",
            code="guardian_consent_required",
            field=field,
            member_ids=[m.id for m, _ in no_consent],
        )
    if activity.with_children:
        _check_adults_checked(
            members,
            today,
            f"“{activity.name}” is done with children",
            "then credit again. Nobody was credited.",
            field=field,
        )
    _check_daily_limit(scheme, policy, members, today, {m.id: minutes for m, _ in members})


def check_may_be_credited(
    scheme: Scheme, credits: Sequence[tuple[int, int]], *, day: date | None = None
) -> None:
    """Refuse crediting ``(member_id, minutes)`` pairs without an activity (a sitting's roles).

    422 ``guardian_consent_required`` or ``minor_daily_limit`` (on ``day``, the
    scheme's today by default), as for awards; nobody is credited.
    """
    policy = current_policy(scheme)
    members = _members([member_id for member_id, _ in credits])
    consents = latest_consents(m.id for m, _ in members if needs_consent(m, policy))
    no_consent = [
        (m, name) for m, name in members if consent_state(m, policy, consents) in _REFUSED
    ]
    if no_consent:
        names = ", ".join(name for _, name in no_consent)
        raise _refusal(
            f"No guardian's consent is recorded for {names}: a child under "
            f"{policy['minors']['consent_below_age']} earns nothing until a guardian gives "
            "consent (invite one from the member's page). Nobody was credited.",
            code="guardian_consent_required",
            field="member_ids",
            member_ids=[m.id for m, _ in no_consent],
        )
    today = day or datetime.now(UTC).astimezone(ZoneInfo(scheme.timezone)).date()
    _check_daily_limit(scheme, policy, members, today, dict(credits))


_REFUSED = ("required", "withdrawn")


def check_may_work_with_children(
    member_ids: Sequence[int], day: date, *, what: str, field: str = "member_id"
) -> None:
    """422 ``check_expired``: an adult among ``member_ids`` without a check valid on ``day``.

    For work with children that is assigned rather than credited (a sitting's rota).
    """
    _check_adults_checked(_members(member_ids), day, what, "then assign them again.", field=field)


def _check_adults_checked(
    members: list[tuple[Member, str]], day: date, what: str, then: str, *, field: str
) -> None:
    adults = [(m, name) for m, name in members if not is_minor(m, day)]
    valid = _valid_checks([m.id for m, _ in adults], day)
    unchecked = [(m, name) for m, name in adults if m.id not in valid]
    if unchecked:
        names = ", ".join(name for _, name in unchecked)
        raise _refusal(
            f"{what}: {names} needs a safeguarding check valid on {day.isoformat()}. "
            f"Record or renew the check on the member's page (Safeguarding), {then}",
            code="check_expired",
            field=field,
            member_ids=[m.id for m, _ in unchecked],
        )


def _refusal(message: str, *, code: str, field: str, member_ids: list[int]) -> ApiError:
    return RuleViolation(message, code=code, extra={"member_ids": member_ids, "field": field})


def _valid_checks(member_ids: list[int], on: date) -> set[int]:
    if not member_ids:
        return set()
    return set(
        db.session.execute(
            select(SafeguardingCheck.member_id).where(
                SafeguardingCheck.member_id.in_(member_ids), SafeguardingCheck.expires_on >= on
            )
        ).scalars()
    )


def _check_daily_limit(
    scheme: Scheme,
    policy: dict[str, Any],
    members: list[tuple[Member, str]],
    day: date,
    minutes: dict[int, int],
) -> None:
    """Each minor's claims (approved, pending) of ``day`` + credits of ``day`` not from claims.

    Awards and a sitting's credits have no date of their own: they count on the
    day they are credited (the scheme's time zone).
    """
    limit = policy["minors"]["max_minutes_per_day"]
    minors = [(m, name) for m, name in members if is_minor(m, day) and minutes.get(m.id, 0) > 0]
    if limit is None or not minors:
        return
    used = dict(
        db.session.execute(
            select(Claim.member_id, func.coalesce(func.sum(Claim.credited_minutes), 0))
            .where(
                Claim.member_id.in_([m.id for m, _ in minors]),
                Claim.status.in_(("approved", "pending")),
                Claim.performed_on == day,
            )
            .group_by(Claim.member_id)
        ).all()
    )
    for member_id, credited in _other_credits(scheme, [m.id for m, _ in minors], day).items():
        used[member_id] = int(used.get(member_id, 0)) + credited
    over = [(m, name) for m, name in minors if int(used.get(m.id, 0)) + minutes[m.id] > limit]
    if over:
        names = ", ".join(name for _, name in over)
        raise _refusal(
            f"Children in {scheme.name} may earn at most {limit} minutes a day; {names} "
            f"would go over it on {day.isoformat()}.",
            code="minor_daily_limit",
            field="minutes",
            member_ids=[m.id for m, _ in over],
        )


def _other_credits(scheme: Scheme, member_ids: list[int], day: date) -> dict[int, int]:
    """Member id → minutes earned on ``day`` (local) other than by claims (awards, sittings)."""
    zone = ZoneInfo(scheme.timezone)
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    from_claims = select(Claim.transaction_id).where(Claim.transaction_id.is_not(None))
    rows = db.session.execute(
        select(Account.member_id, func.coalesce(func.sum(Posting.amount), 0))
        .join(
            Posting, (Posting.scheme_id == Account.scheme_id) & (Posting.account_id == Account.id)
        )
        .join(
            Transaction,
            (Transaction.scheme_id == Posting.scheme_id)
            & (Transaction.id == Posting.transaction_id),
        )
        .where(
            Account.member_id.in_(member_ids),
            Transaction.kind == "earn",
            Transaction.created_at >= start,
            Transaction.created_at < end,
            Transaction.id.not_in(from_claims),
        )
        .group_by(Account.member_id)
    ).all()
    return {int(member_id): int(total) for member_id, total in rows if member_id is not None}


def check_minor_transfer(scheme: Scheme, payer: Member, payee_id: int) -> None:
    """422 ``minor_transfers_disabled``: with ``minors.peer_transfers`` off, a minor neither pays nor is paid."""
    policy = current_policy(scheme)
    if policy["minors"]["peer_transfers"]:
        return
    payee = db.session.get(Member, (scheme.id, payee_id))
    if is_minor(payer) or (payee is not None and is_minor(payee)):
        raise RuleViolation(
            f"Children in {scheme.name} cannot pay or be paid directly; a coordinator can "
            "award or adjust credits instead.",
            code="minor_transfers_disabled",
        )
