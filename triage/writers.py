"""The write account's settings, per side (`onprem`: Exchange PowerShell; `online`: Exchange Online through the
management host; `host`: WinRM; `ews`: on-premises mailboxes): the lab's writer, or the
configuration's `write:` section over the read-only sections' endpoints. Used by `triage fix` and the bot's
write side, which build one `StepWriter` per plan here."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any
from urllib.parse import urlsplit

from checks.fixing import StepWriter
from knowledge.fix_plan import FixPlan

__all__ = ["lab_writers", "live_writers", "missing_writer", "step_writer"]


def lab_writers(endpoints: dict[str, Any]) -> dict[str, Any]:
    from checks.backends.exo_host import ExoHostSettings
    from checks.backends.exo_write import ExoWriteSettings
    from checks.backends.psrp import PsrpSettings
    from checks.backends.winrm_host import WinrmSettings

    writer = endpoints["writer"]
    out: dict[str, Any] = {}
    # Exchange Online through the management host (the lab's first WinRM listener stands in for it), as the
    # write account, connecting with the write app.
    out["online"] = ExoWriteSettings(
        ExoHostSettings(
            "MGMT01", str(endpoints["exchange_online_tenant"]), app_id=str(endpoints["credentials"]["client_id"]),
            certificate_thumbprint="1" * 40,
        ),
        WinrmSettings(
            endpoints={"MGMT01": str(endpoints["winrm"])}, transport="ntlm", username=str(writer["username"]),
            password=str(writer["password"]), ca_file=str(endpoints["ca_cert"]), operation_timeout=2, read_timeout=3,
        ),
    )  # fmt: skip
    for side, key in (("onprem", "psrp"),):
        url = urlsplit(str(endpoints[key]))
        out[side] = PsrpSettings(
            server=url.hostname or "127.0.0.1",
            port=url.port,
            path=url.path.lstrip("/"),
            auth="ntlm",
            username=str(writer["username"]),
            password=str(writer["password"]),
            ca_file=str(endpoints["ca_cert"]),
            name="Exchange PowerShell (write)" if side == "onprem" else "Exchange Online PowerShell (write)",
            online=side == "online",
            connections=1,
        )
    from checks.backends.ews import EwsSettings

    # The requester's on-premises mailbox over EWS (a hidden sharing subscription), as the write account.
    out["ews"] = EwsSettings(
        endpoint=str(endpoints["ews"]), auth="basic", username=str(writer["username"]),
        password=str(writer["password"]), ca_file=str(endpoints["ca_cert"]), name="Exchange Web Services (write)",
    )  # fmt: skip
    out["host"] = WinrmSettings(
        endpoints=dict(endpoints["winrm_servers"]), transport="ntlm", username=str(writer["username"]),
        password=str(writer["password"]), ca_file=str(endpoints["ca_cert"]), operation_timeout=2, read_timeout=3,
    )  # fmt: skip
    return out


def live_writers(config: Any) -> dict[str, Any]:
    from checks.backends.psrp import PsrpSettings

    e, w = config.exchange, config.write
    password = w.password("write")
    out: dict[str, Any] = {}
    if config.winrm is not None:  # host templates run with the write account over the hosts' WinRM
        from dataclasses import replace

        from checks.wiring import from_config

        read_only = from_config(config).winrm
        if read_only is not None:
            out["host"] = replace(read_only, username=w.username, password=password, kerberos=None)
    o = config.exchange_online
    if o is not None and w.exchange_online_app_id and w.exchange_online_certificate_thumbprint:
        from dataclasses import replace as replaced

        from checks.backends.exo_host import ExoHostSettings
        from checks.backends.exo_write import ExoWriteSettings
        from checks.wiring import from_config as wired

        management = wired(config).exo_host_winrm
        if management is not None:
            out["online"] = ExoWriteSettings(
                ExoHostSettings(o.management_host, o.organization, w.exchange_online_app_id,
                                w.exchange_online_certificate_thumbprint),
                replaced(management, username=w.username, password=password, kerberos=None),
            )  # fmt: skip
    if config.ews is not None:  # on-premises mailboxes over the ews section's endpoint, as the write account
        from checks.backends.ews import EwsSettings

        s = config.ews
        out["ews"] = EwsSettings(
            endpoint=s.endpoint, auth=s.auth, username=w.username,
            password=password, version=s.version, access=s.access, ca_file=s.ca_file, timeout=s.timeout,
            name="Exchange Web Services (write)",
        )  # fmt: skip
    return (
        out
        | {
            "onprem": PsrpSettings(
                server=e.server,
                port=e.port,
                path=e.path,
                ssl=e.ssl,
                auth=w.auth or e.auth,
                username=w.username,
                password=password,
                ca_file=e.ca_file,
                verify_tls=e.verify_tls,
                connections=1,
                name="Exchange PowerShell (write)",
                spn=e.spn,  # the same server, the same SPN; pypsrp gets the write account's own ticket from its password
            )
        }
    )


def missing_writer(plan: FixPlan, writers: dict[str, Any]) -> str:
    """Why `writers` cannot run `plan` ("" when they can): the side's Exchange PowerShell, the hosts' WinRM,
    or EWS (on-premises mailboxes only)."""
    steps = (*plan.steps, *plan.rollback)
    if any(not (s.template or s.ews) for s in steps) and plan.side not in writers:
        return f"no write access is configured for the {plan.side} side"
    if any(s.template for s in steps) and "host" not in writers:
        return "no write access to the Windows hosts (WinRM) is configured"
    if any(s.ews for s in steps) and (plan.side != "onprem" or "ews" not in writers):
        where = "on-premises mailboxes" if plan.side == "onprem" else f"{plan.side} mailboxes"
        return f"no write access to {where} over EWS is configured"
    return ""


def step_writer(
    plan: FixPlan, writers: dict[str, Any], executor: Executor, allowed: dict[str, set[str]]
) -> StepWriter:
    """The write ports `plan` needs, each with the write account and the plan's allow-list."""
    from checks.backends.ews_write import EwsWriter
    from checks.backends.exo_write import ExoWriter, ExoWriteSettings
    from checks.backends.psrp_write import PsrpWriter
    from checks.backends.winrm_write import WinrmWriter

    exchange, host, ews = writers.get(plan.side), writers.get("host"), writers.get("ews")
    cmdlets: Any = (
        None
        if exchange is None
        else ExoWriter(exchange, executor, allowed)
        if isinstance(exchange, ExoWriteSettings)
        else PsrpWriter(exchange, executor, allowed)
    )
    return StepWriter(
        cmdlets,
        WinrmWriter(host, executor, allowed) if host is not None else None,
        EwsWriter(ews, executor, allowed) if ews is not None and plan.side == "onprem" else None,
    )
