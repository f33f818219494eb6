"""Who is calling: Firebase ID tokens with the role as a custom claim; creating users.

``verify`` turns an ``Authorization: Bearer <ID token>`` header into a ``Principal`` or
refuses it (401: missing, malformed, invalid or expired; 403: no role). The token is checked
by firebase-admin: signature, audience, issuer and expiry in the cloud. Against the Auth
emulator (``FIREBASE_AUTH_EMULATOR_HOST``) firebase-admin accepts its unsigned tokens and
checks no expiry, so the expiry is checked here as well, always.

``add_user`` creates (or updates) an account, sets its role claim and writes ``users/{uid}``
``{email, role, display_name, device_tokens}`` for the functions that look people up by role.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import firebase_admin
from firebase_admin import auth
from google.cloud import firestore

from fashiontag import clients, config, contract
from fashiontag.admin.errors import Forbidden, Invalid, Unauthenticated
from fashiontag.contract import ROLES, USERS

CLOCK_SKEW_S = 5
_MAX_TOKEN_CHARS = 8192
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Principal:
    uid: str
    email: str
    role: str


@functools.cache
def _app_for(project: str, emulator_host: str) -> firebase_admin.App:
    name = f"fashiontag-{project}-{emulator_host or 'cloud'}"
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project}, name=name)


def firebase_app() -> firebase_admin.App:
    """One firebase-admin app per (project, emulator), created on first use."""
    return _app_for(config.project(), config.auth_emulator_host())


def verify(authorization: str | None) -> Principal:
    """The caller of a request from its Authorization header; raises Unauthenticated/Forbidden."""
    if not authorization:
        raise Unauthenticated("Sign in first: this request carries no ID token (Authorization header).")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS or not _JWT.match(token):
        raise Unauthenticated("The Authorization header must be 'Bearer <Firebase ID token>'.")
    try:
        claims: dict[str, Any] = auth.verify_id_token(token, app=firebase_app(), clock_skew_seconds=CLOCK_SKEW_S)
    except auth.ExpiredIdTokenError:
        raise Unauthenticated("Your sign-in has expired; sign in again.") from None
    except (auth.InvalidIdTokenError, ValueError):
        raise Unauthenticated("The ID token is not valid; sign in again.") from None
    # The emulator's tokens are unsigned and firebase-admin skips their expiry: check it here.
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW_S < time.time():
        raise Unauthenticated("Your sign-in has expired; sign in again.")
    role = claims.get("role")
    uid = str(claims.get("uid") or claims.get("sub") or "")
    if role not in ROLES:
        raise Forbidden("This account has no role yet; ask a manager to give it one.")
    if not contract.valid_id(uid):
        raise Forbidden("This account's id cannot be used here.")
    _check_not_revoked(uid, claims)
    return Principal(uid=uid, email=str(claims.get("email") or ""), role=str(role))


def _check_not_revoked(uid: str, claims: dict[str, Any]) -> None:
    """A role change revokes the account's sessions (``add_user``), so a token minted under the
    old role stops working now rather than when it expires within the hour. The check
    firebase-admin's ``check_revoked`` makes, done here after the expiry check so an expired
    token is still answered as expired."""
    try:
        user = auth.get_user(uid, app=firebase_app())
    except auth.UserNotFoundError:
        raise Unauthenticated("This account no longer exists.") from None
    if user.disabled:
        raise Forbidden("This account is disabled.")
    valid_after_ms = user.tokens_valid_after_timestamp or 0
    if float(claims.get("auth_time", 0)) * 1000 < valid_after_ms:
        raise Unauthenticated("Your account changed (its role or access); sign in again.")


def require(principal: Principal, *roles: str) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"This needs the {' or '.join(roles)} role; you are signed in as a {principal.role}.")
    return principal


# --- users ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddedUser:
    uid: str
    email: str
    role: str
    created: bool
    password: str | None  # the generated one, when none was given to a new account


def add_user(
    email: str,
    role: str,
    password: str | None = None,
    display_name: str | None = None,
    uid: str | None = None,
) -> AddedUser:
    """Create the account (or update the existing one with this email) and give it ``role``."""
    if role not in ROLES:
        raise Invalid(f"'{role}' is not a role; choose one of: {', '.join(ROLES)}")
    if uid is not None and not contract.valid_id(uid):
        raise Invalid("a uid may hold letters, digits, '-' and '_' only (at most 128)")
    app = firebase_app()
    name = display_name or email.split("@", 1)[0]
    generated = None
    previous_role = None
    try:
        user = auth.get_user_by_email(email, app=app)
        previous_role = (user.custom_claims or {}).get("role")
        changes: dict[str, Any] = {"display_name": name}
        if password:
            changes["password"] = password
        user = auth.update_user(user.uid, app=app, **changes)
        created = False
    except auth.UserNotFoundError:
        if not password:
            generated = password = secrets.token_urlsafe(12)
        user = auth.create_user(uid=uid, email=email, password=password, display_name=name, app=app)
        created = True
    auth.set_custom_user_claims(user.uid, {"role": role}, app=app)
    if not created and previous_role != role:
        # Tokens carry the role they were minted with: end the sessions of the old one.
        auth.revoke_refresh_tokens(user.uid, app=app)
    _write_user_doc(user.uid, {"email": email, "role": role, "display_name": name})
    return AddedUser(uid=user.uid, email=email, role=role, created=created, password=generated)


def _write_user_doc(uid: str, fields: dict[str, Any]) -> None:
    ref = clients.firestore_client().collection(USERS).document(uid)

    @firestore.transactional
    def run(txn: firestore.Transaction) -> None:
        snap = ref.get(transaction=txn)
        if snap.exists:
            txn.update(ref, {**fields, "updated_at": firestore.SERVER_TIMESTAMP})
        else:
            txn.create(ref, {**fields, "device_tokens": [], "created_at": firestore.SERVER_TIMESTAMP})

    run(clients.firestore_client().transaction())


def get_user(uid: str) -> dict[str, Any] | None:
    if not contract.valid_id(uid):
        return None
    snap = clients.firestore_client().collection(USERS).document(uid).get()
    return {"uid": snap.id, **(snap.to_dict() or {})} if snap.exists else None


def list_users(role: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    query: Any = clients.firestore_client().collection(USERS)
    if role:
        query = query.where(filter=firestore.FieldFilter("role", "==", role))
    users = [{"uid": snap.id, **(snap.to_dict() or {})} for snap in query.limit(limit).stream()]
    return sorted(users, key=lambda u: (str(u.get("role", "")), str(u.get("email", ""))))
