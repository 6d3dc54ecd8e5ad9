"""At a partner's counter: honouring a redemption's code, and charging a member's card.

Honouring locks the redemption row (``SELECT … FOR UPDATE``): two counters
scanning one code at once queue up, and the second finds it used. A code of
another partner answers 404 as an unknown one, so staff learn nothing about
other partners' redemptions. Nothing moves when a code is honoured: the
credits reached the partner's account when the member redeemed.

Charging (the member shows their membership QR, the *card*): staff name an
offer; the member approves it on their phone (``…/charges/{id}/confirm``)
within ten minutes, or the staff member types the member's counter PIN and the
charge goes through at once. Either way the credits move through
:func:`timebank.tenants.spending.services.redeem` (stock, allowance, limits and
balance are checked there, under the reward's lock), and the redemption is
fulfilled straight away. Five wrong PINs lock the card's PIN for 15 minutes.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from timebank.platform import audit
from timebank.platform.api.errors import FieldError, NotFound, RuleViolation
from timebank.platform.db import atomic, db
from timebank.platform.identity.models import User
from timebank.platform.schemes.models import Scheme
from timebank.tenants.memberships.models import Member
from timebank.tenants.partners.models import Partner, PartnerCard, PartnerCharge
from timebank.tenants.partners.services import first_name, require_active
from timebank.tenants.spending.models import Redemption, Reward
from timebank.tenants.spending.services import CODE_ALPHABET, redeem

CODE_NOT_FOUND = "No redemption with this code at this partner."
CHARGE_LIFETIME = timedelta(minutes=10)
PIN_ATTEMPTS = 5
PIN_LOCK = timedelta(minutes=15)
_CODE = re.compile(f"^[{CODE_ALPHABET}]{{4,16}}$")


def normalise_code(code: str) -> str:
    """What staff type: any case, spaces or dashes between groups."""
    return re.sub(r"[\s-]", "", code).upper()


def _member_first_name(member_id: int) -> str:
    name = db.session.execute(
        select(User.name).join(Member, Member.user_id == User.id).where(Member.id == member_id)
    ).scalar_one()
    return first_name(name)


def _reward_name(reward_id: int) -> str:
    return db.session.execute(select(Reward.name).where(Reward.id == reward_id)).scalar_one()


def _find(partner: Partner, code: str, *, lock: bool) -> Redemption:
    code = normalise_code(code)
    if not _CODE.match(code):
        raise NotFound(CODE_NOT_FOUND)
    statement = select(Redemption).where(Redemption.code == code)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    redemption = db.session.execute(statement).scalar_one_or_none()
    if redemption is None or redemption.partner_id != partner.id:
        raise NotFound(CODE_NOT_FOUND)
    return redemption


def _expired(redemption: Redemption) -> bool:
    expires_at = redemption.expires_at
    if expires_at is None:
        return False
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= datetime.now(UTC)


def describe_code(redemption: Redemption) -> dict[str, Any]:
    """What the counter sees: the offer, how many, the member's first name, the state."""
    status = redemption.status
    if status == "issued" and _expired(redemption):
        status = "expired"
    return {
        "redemption_id": redemption.id,
        "code": redemption.code,
        "reward": _reward_name(redemption.reward_id),
        "quantity": redemption.quantity,
        "minutes": redemption.total,
        "member_first_name": _member_first_name(redemption.member_id),
        "status": status,
        "expires_at": redemption.expires_at,
        "fulfilled_at": redemption.decided_at if redemption.status == "fulfilled" else None,
    }


def look_up_code(partner: Partner, code: str) -> dict[str, Any]:
    """A code of this partner, before honouring it (404 for unknown or another's)."""
    return describe_code(_find(partner, code, lock=False))


@atomic
def honour(scheme: Scheme, partner: Partner, code: str, *, actor_user_id: int) -> dict[str, Any]:
    """Hand over what a code was redeemed for, once.

    Raises 403 ``partner_inactive``, 404 (unknown, or another partner's code),
    422 ``code_used`` (honoured before) or ``code_expired`` (cancelled, or past
    its validity). Nothing moves in the ledger.
    """
    require_active(partner)
    redemption = _find(partner, code, lock=True)
    if redemption.status == "fulfilled":
        raise RuleViolation(
            f"Code {redemption.code} was already used"
            f"{_when(redemption.decided_at)}: do not hand it over again.",
            code="code_used",
        )
    if redemption.status == "cancelled" or _expired(redemption):
        raise RuleViolation(
            f"Code {redemption.code} has expired or was cancelled: it cannot be used.",
            code="code_expired",
        )
    redemption.status = "fulfilled"
    redemption.decided_by = actor_user_id
    redemption.decided_at = datetime.now(UTC)
    audit.record(
        scheme.id,
        "redemption.honoured",
        actor_user_id=actor_user_id,
        target=f"redemption:{redemption.id}",
        details={"partner_id": partner.id},
    )
    return describe_code(redemption)


def _when(moment: datetime | None) -> str:
    return f" on {moment:%d %b %Y at %H:%M} UTC" if moment else ""


# --- the member's card ---------------------------------------------------------------


def card_of(scheme: Scheme, member: Member) -> PartnerCard:
    """The member's card, made the first time it is asked for (in the caller's unit of work)."""
    card = db.session.execute(
        select(PartnerCard).where(PartnerCard.member_id == member.id)
    ).scalar_one_or_none()
    if card is None:
        card = PartnerCard(scheme_id=scheme.id, member_id=member.id, code=_new_card_code())
        db.session.add(card)
        db.session.flush()
    return card


@atomic
def my_card(scheme: Scheme, member: Member) -> dict[str, Any]:
    card = card_of(scheme, member)
    return {"code": card.code, "has_pin": card.pin_hash is not None}


@atomic
def set_pin(scheme: Scheme, member: Member, pin: str | None) -> None:
    """Set (or, with ``None``, remove) the member's counter PIN."""
    card = card_of(scheme, member)
    card.pin_hash = generate_password_hash(pin) if pin else None
    card.failed_pins = 0
    card.locked_until = None
    audit.record(
        scheme.id,
        "member.card_pin_set" if pin else "member.card_pin_removed",
        actor_user_id=member.user_id,
        target=f"member:{member.id}",
    )


def _new_card_code() -> str:
    for _attempt in range(20):
        code = "M" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(11))
        if (
            db.session.execute(select(PartnerCard.id).where(PartnerCard.code == code)).first()
            is None
        ):
            return code
    raise RuntimeError("could not find a free card code")  # pragma: no cover


# --- charges ------------------------------------------------------------------------


def _pin_matches(card: PartnerCard, pin: str) -> bool:
    now = datetime.now(UTC)
    locked_until = card.locked_until
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=UTC)
    if locked_until is not None and locked_until > now:
        raise RuleViolation(
            "Too many wrong PINs: ask the member to confirm on their phone, or try later.",
            code="pin_locked",
        )
    if card.pin_hash is not None and check_password_hash(card.pin_hash, pin):
        card.failed_pins = 0
        return True
    card.failed_pins += 1
    if card.failed_pins >= PIN_ATTEMPTS:
        card.failed_pins = 0
        card.locked_until = now + PIN_LOCK
    return False


def charge(
    scheme: Scheme,
    partner: Partner,
    *,
    card_code: str,
    reward_id: int,
    quantity: int,
    pin: str | None,
    actor_user_id: int,
) -> dict[str, Any]:
    """Charge an offer to a member's card: at once with the right PIN, else waiting for the
    member to confirm. 422 on ``card`` (unknown), ``reward_id`` (not this partner's),
    ``wrong_pin``, ``pin_locked``; the refusals of ``redeem``."""
    from_pin, wrong = _charge(
        scheme,
        partner,
        card_code=card_code,
        reward_id=reward_id,
        quantity=quantity,
        pin=pin,
        actor_user_id=actor_user_id,
    )
    if wrong:  # the count of wrong PINs is kept (committed) before refusing
        raise RuleViolation("That PIN is not right.", code="wrong_pin")
    return from_pin


@atomic
def _charge(
    scheme: Scheme,
    partner: Partner,
    *,
    card_code: str,
    reward_id: int,
    quantity: int,
    pin: str | None,
    actor_user_id: int,
) -> tuple[dict[str, Any], bool]:
    require_active(partner)
    card = db.session.execute(
        select(PartnerCard)
        .where(PartnerCard.code == normalise_code(card_code))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    member = db.session.get(Member, (scheme.id, card.member_id)) if card else None
    if card is None or member is None or member.status != "active":
        raise FieldError("card", "No member's card with this code in this scheme.")
    reward = db.session.execute(
        select(Reward).where(Reward.id == reward_id, Reward.partner_id == partner.id)
    ).scalar_one_or_none()
    if reward is None:
        raise FieldError("reward_id", "No offer with this id at this partner.")
    item = PartnerCharge(
        scheme_id=scheme.id,
        partner_id=partner.id,
        reward_id=reward.id,
        member_id=member.id,
        quantity=quantity,
        status="awaiting_confirmation",
        created_by=actor_user_id,
        expires_at=datetime.now(UTC) + CHARGE_LIFETIME,
    )
    if pin is not None:
        if not _pin_matches(card, pin):
            return {}, True
        _settle(scheme, item, member, actor_user_id=actor_user_id)
    db.session.add(item)
    db.session.flush()
    return describe_charge(item), False


def _settle(scheme: Scheme, item: PartnerCharge, member: Member, *, actor_user_id: int) -> None:
    redemption = redeem(
        scheme,
        member,
        reward_id=item.reward_id,
        quantity=item.quantity,
        actor_user_id=actor_user_id,
        partner_id=item.partner_id,
        honoured=True,
    )
    item.status = "confirmed"
    item.redemption_id = redemption.id
    item.decided_at = datetime.now(UTC)


def describe_charge(item: PartnerCharge) -> dict[str, Any]:
    partner_name = db.session.execute(
        select(Partner.name).where(Partner.id == item.partner_id)
    ).scalar_one()
    status = item.status
    expires_at = item.expires_at.replace(tzinfo=item.expires_at.tzinfo or UTC)
    if status == "awaiting_confirmation" and expires_at <= datetime.now(UTC):
        status = "expired"
    price = db.session.execute(select(Reward.price).where(Reward.id == item.reward_id)).scalar_one()
    return {
        "id": item.id,
        "partner_id": item.partner_id,
        "partner_name": partner_name,
        "reward_id": item.reward_id,
        "reward": _reward_name(item.reward_id),
        "quantity": item.quantity,
        "minutes": price * item.quantity,
        "member_first_name": _member_first_name(item.member_id),
        "status": status,
        "redemption_id": item.redemption_id,
        "expires_at": item.expires_at,
        "created_at": item.created_at,
    }


def get_charge(
    charge_id: int, *, partner_id: int | None = None, member_id: int | None = None
) -> PartnerCharge:
    statement = select(PartnerCharge).where(PartnerCharge.id == charge_id)
    if partner_id is not None:
        statement = statement.where(PartnerCharge.partner_id == partner_id)
    if member_id is not None:
        statement = statement.where(PartnerCharge.member_id == member_id)
    item = db.session.execute(statement).scalar_one_or_none()
    if item is None:
        raise NotFound("No charge with this id.")
    return item


def charges_waiting(member_id: int) -> list[dict[str, Any]]:
    """The member's charges still waiting for them (newest first)."""
    rows = db.session.execute(
        select(PartnerCharge)
        .where(
            PartnerCharge.member_id == member_id,
            PartnerCharge.status == "awaiting_confirmation",
            PartnerCharge.expires_at > datetime.now(UTC),
        )
        .order_by(PartnerCharge.id.desc())
    ).scalars()
    return [describe_charge(item) for item in rows]


@atomic
def decide_charge(
    scheme: Scheme, member: Member, charge_id: int, *, confirm: bool
) -> dict[str, Any]:
    """The member confirms (credits move, the offer is handed over) or declines a charge.

    Raises 404 (not theirs), 422 ``charge_expired``, ``already_decided``, and the
    refusals of ``redeem`` (the charge then stays waiting)."""
    item = db.session.execute(
        select(PartnerCharge)
        .where(PartnerCharge.id == charge_id, PartnerCharge.member_id == member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if item is None:
        raise NotFound("No charge with this id.")
    if item.status != "awaiting_confirmation":
        raise RuleViolation(f"This charge was already {item.status}.", code="already_decided")
    expires_at = item.expires_at.replace(tzinfo=item.expires_at.tzinfo or UTC)
    if expires_at <= datetime.now(UTC):
        raise RuleViolation(
            "This charge has expired: ask the counter to charge it again.", code="charge_expired"
        )
    if confirm:
        partner = db.session.get(Partner, (scheme.id, item.partner_id))
        assert partner is not None
        require_active(partner)
        _settle(scheme, item, member, actor_user_id=member.user_id)
    else:
        item.status = "declined"
        item.decided_at = datetime.now(UTC)
    return describe_charge(item)
