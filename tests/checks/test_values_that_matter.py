"""The value that matters, in the words a triage shows: how long ago the federation certificate expired (and
the rebuild before the rollover), how far a server's clock is off, the thumbprint a broken binding names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.assessment import assess
from knowledge.loader import KnowledgeBase
from lab.runtime import start_lab
from tests.checks.conftest import run_on_lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
FEDERATION = "3226500C943B6235AEB493A307F084710FD1D5D0"
GONE = "0123456789ABCDEF0123456789ABCDEF01234567"


async def _run(tmp_path: Path, kb: KnowledgeBase, changes: dict[str, Any], *checks: str) -> tuple[Any, Any]:
    scenario = {"extends": "healthy", "name": "values", "organization": changes}
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    lab = start_lab(path)
    try:
        results = await run_on_lab(lab, kb, PAIR, *checks)
    finally:
        lab.close()
    return results, assess(kb, said=PAIR, results=list(results.values()))


@pytest.mark.lab
async def test_an_expired_federation_certificate_says_how_long_ago_and_rebuild_comes_first(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    expired = {"thumbprint": FEDERATION, "not_after": "now-3d"}
    servers = [{"name": n, "certificates": [expired]} for n in ("EX01", "EX02", "EX03", "EX04")]
    results, inference = await _run(tmp_path, kb, {"servers": servers}, "federation-trust")
    trust = results["federation-trust"]
    assert trust.status == "fail", trust.summary
    assert f"the federation certificate {FEDERATION} expired 3 days ago" in trust.summary
    assert trust.facts["fedcert.days_since_expiry"] == 3
    assert "expires in -" not in trust.summary
    cause = next(c for c in inference.causes if c.id == "federation-cert-expired")
    assert "The federation certificate expired 3 days ago." in cause.evidence
    assert not any("expires in" in sentence for sentence in cause.evidence)
    assert [r.id for r in cause.remediations] == ["rebuild-federation-trust", "renew-federation-certificate"]
    assert "federation-cert-expiring" not in [c.id for c in inference.causes]


@pytest.mark.lab
async def test_a_certificate_about_to_expire_is_rolled_over(kb: KnowledgeBase, tmp_path: Path) -> None:
    soon = {"thumbprint": FEDERATION, "not_after": "now+10d"}
    servers = [{"name": n, "certificates": [soon]} for n in ("EX01", "EX02", "EX03", "EX04")]
    results, inference = await _run(tmp_path, kb, {"servers": servers}, "federation-trust")
    assert results["federation-trust"].status == "warn"
    assert "expires in 9 days" in results["federation-trust"].summary or "expires in 10 days" in (
        results["federation-trust"].summary
    )
    cause = next(c for c in inference.causes if c.id == "federation-cert-expiring")
    assert [r.id for r in cause.remediations] == ["renew-federation-certificate"]
    assert "federation-cert-expired" not in [c.id for c in inference.causes]


@pytest.mark.lab
async def test_a_skewed_clock_shows_its_offset_and_a_broken_binding_its_thumbprint(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    changes = {
        "servers": [
            {"name": "EX03", "clock_offset_seconds": 420},
            {"name": "EX01", "back_end_certificate": GONE},
        ]
    }
    results, inference = await _run(tmp_path, kb, changes, "host-settings")
    host = results["host-settings"]
    assert host.facts["host.time_skew_offsets"] == ["EX03 +420 s (ahead)"]
    assert host.facts["host.backend_binding_dangling"] == [f"EX01 {GONE}"]
    assert "the clock is more than five minutes off on EX03 +420 s (ahead)" in host.summary
    assert f"EX01 (the binding names {GONE}, not in the certificate store)" in host.summary
    skew = next(c for c in inference.causes if c.id == "server-clock-skew")
    assert "More than five minutes off the domain's time source: EX03 +420 s (ahead)." in skew.evidence
    binding = next(c for c in inference.causes if any(GONE in e for e in c.evidence))
    assert (
        f"The Exchange Back End https binding names a certificate that is not in the store: EX01 {GONE}."
        in (binding.evidence)
    )
