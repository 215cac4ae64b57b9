"""Issue 14, "Done when": a person registers and confirms the address through the mail a real SMTP server
received, claims a seeded municipality, is verified by a moderator, invites a colleague by e-mail, the
colleague accepts through the link in that mail by choosing a name and password, and both then record a
reference for the municipality. Before the verification the claimant's reference is refused.
"""

from __future__ import annotations

import httpx
import pytest

from allmende.accounts.models import PlatformRole
from allmende.app import Adapters
from allmende.core.db import Database
from tests.support.factories import csrf_headers, make_user, signed_in
from tests.support.identity import STRONG, audit_actions, invitation_token, post, register, token_in, verify
from tests.support.jobs import queue_of
from tests.support.mail import SmtpSink, use_smtp

CLAIMANT = "digitalisierung@kiel.de"
COLLEAGUE = "stadtplanung@kiel.de"
KIEL_AGS = "01002000"


@pytest.mark.seeded
async def test_a_person_brings_their_municipality_onto_the_platform_and_a_colleague_joins(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    # Registration with double opt-in: the confirmation link arrives at the SMTP server.
    assert (await register(client, CLAIMANT, name="Dana Digital")).status_code == 202
    await queue_of(adapters).run_pending(wait_for_retries=True)
    [confirmation] = smtp.to(CLAIMANT)
    confirmed = await post(client, "/api/v1/auth/confirm-email", {"token": token_in(confirmation.get_content())})
    assert confirmed.status_code == 200, confirmed.text
    moderator = await make_user(database, role=PlatformRole.moderator)
    claimant = await signed_in(client, CLAIMANT, STRONG)

    # The claim: Kiel from the register, by its AGS. Until a moderator verifies it, no reference.
    claim = await claimant.post("/api/v1/organization-claims", json={"key": KIEL_AGS, "statement": "Amt für Digitales"})
    assert claim.status_code == 201, claim.text
    assert claim.json()["organization"]["slug"] == "kiel"
    refused = await claimant.put("/api/v1/solutions/masterportal/references/kiel", json={"mode": "own-operation"})
    assert refused.status_code == 403, refused.text

    # A moderator verifies: the claimant is Kiel's first verified owner.
    mod = await signed_in(client, moderator.email)
    assert (await verify(mod, claim.json()["uuid"])).status_code == 200
    me = (await claimant.get("/api/v1/auth/me")).json()
    assert [(m["organization"], m["role"]) for m in me["memberships"]] == [("kiel", "owner")]

    # The owner invites a colleague; the mail arrives at the SMTP server.
    invited = await claimant.post("/api/v1/organizations/kiel/invitations", json={"email": COLLEAGUE, "role": "editor"})
    assert invited.status_code == 201, invited.text
    await queue_of(adapters).run_pending(wait_for_retries=True)
    token = invitation_token(smtp, COLLEAGUE)

    # The colleague has no account: the link and a name and password make one, signed in at once.
    colleague = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await colleague.get("/api/v1/organizations", params={"limit": 1})
    colleague.headers.update(csrf_headers(colleague))
    accepted = await colleague.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Erika Muster", "password": "Förde Kran Leuchtturm 1865"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["account_created"] is True

    # Both record a reference for Kiel.
    first = await claimant.put("/api/v1/solutions/masterportal/references/kiel", json={"mode": "own-operation"})
    second = await colleague.put("/api/v1/solutions/qgis/references/kiel", json={"mode": "own-operation"})
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    used = {r["solution"] for r in (await client.get("/api/v1/organizations/kiel/references")).json()}
    assert {"masterportal", "qgis"} <= used

    actions = await audit_actions(database)
    for action in ("organization_claim.file", "organization_claim.verify", "invitation.send", "invitation.accept"):
        assert action in actions
