"""Owners change roles and remove members; anyone leaves; the last owner can neither leave nor be demoted
(issue 14, item 3)."""

from __future__ import annotations

import httpx

from allmende.accounts.models import MemberRole, Membership, OrganizationKind
from allmende.core.db import Database
from tests.support.factories import count, make_organization, make_user_in, signed_in
from tests.support.identity import audit_actions

MEMBERS = "/api/v1/organizations/team/members"


async def test_an_owner_changes_a_role_and_removes_a_member(client: httpx.AsyncClient, database: Database) -> None:
    org = await make_organization(database, kind=OrganizationKind.vendor, slug="team")
    owner = await make_user_in(database, org, MemberRole.owner)
    colleague = await make_user_in(database, org, MemberRole.member)
    http = await signed_in(client, owner.email)

    promoted = await http.put(MEMBERS, json={"email": colleague.email, "role": "editor"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "editor"
    removed = await http.delete(f"{MEMBERS}/{colleague.email}")
    assert removed.status_code == 204
    assert await count(database, Membership) == 1
    actions = await audit_actions(database)
    assert "membership.set" in actions and "membership.remove" in actions


async def test_the_last_owner_cannot_be_demoted_nor_leave_until_another_owner_exists(
    client: httpx.AsyncClient, database: Database
) -> None:
    org = await make_organization(database, kind=OrganizationKind.vendor, slug="team")
    owner = await make_user_in(database, org, MemberRole.owner)
    colleague = await make_user_in(database, org, MemberRole.editor)
    http = await signed_in(client, owner.email)

    demoted = await http.put(MEMBERS, json={"email": owner.email, "role": "editor"})
    assert demoted.status_code == 409 and demoted.json()["field"] == "role"
    left = await http.delete(f"{MEMBERS}/{owner.email}")
    assert left.status_code == 409 and left.json()["field"] == "email"

    assert (await http.put(MEMBERS, json={"email": colleague.email, "role": "owner"})).status_code == 200
    assert (await http.put(MEMBERS, json={"email": owner.email, "role": "member"})).status_code == 200
    assert (await http.delete(f"{MEMBERS}/{owner.email}")).status_code == 204  # now they may leave
    assert await count(database, Membership) == 1


async def test_a_member_leaves_on_their_own_but_removes_nobody_else(
    client: httpx.AsyncClient, database: Database
) -> None:
    org = await make_organization(database, kind=OrganizationKind.vendor, slug="team")
    await make_user_in(database, org, MemberRole.owner)
    editor = await make_user_in(database, org, MemberRole.editor)
    member = await make_user_in(database, org, MemberRole.member)
    http = await signed_in(client, member.email)

    assert (await http.delete(f"{MEMBERS}/{editor.email}")).status_code == 403
    assert (await http.delete(f"{MEMBERS}/{member.email}")).status_code == 204
    assert "membership.leave" in await audit_actions(database)
