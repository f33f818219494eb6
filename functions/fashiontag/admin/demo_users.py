"""The demo's accounts (``make demo``): a manager, a seller and a buyer on the Auth emulator.

The seller's uid is the demo's upload folder, so the sample photos ``make demo`` uploads are
that seller's products; the passwords are printed because these accounts only ever live in
the local emulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashiontag import contract
from fashiontag.admin import identity


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    uid: str
    password: str


def accounts(seller_uid: str) -> tuple[DemoAccount, ...]:
    return (
        DemoAccount("manager@demo.fashiontag", contract.MANAGER, "demo-manager", "manager-demo"),
        DemoAccount("seller@demo.fashiontag", contract.SELLER, seller_uid, "seller-demo"),
        DemoAccount("buyer@demo.fashiontag", contract.BUYER, "demo-buyer", "buyer-demo"),
    )


def ensure(seller_uid: str) -> tuple[DemoAccount, ...]:
    """Create the demo accounts, or reset their role and password when they exist."""
    wanted = accounts(seller_uid)
    for account in wanted:
        identity.add_user(account.email, account.role, account.password, None, account.uid)
    return wanted


def summary(admin_url: str, demo: tuple[DemoAccount, ...]) -> str:
    lines = [f"\nadmin page: {admin_url}/  (sign in with one of these demo accounts)"]
    lines += [f"  {a.role:<8} {a.email:<26} password {a.password}" for a in demo]
    lines.append("  more accounts: .venv/bin/fashiontag users add EMAIL --role manager|seller|buyer")
    return "\n".join(lines)
