"""The write account's settings, per side (`onprem`, `online`, `host`): the lab's writer, or the configuration's
`write:` section over the read-only sections' endpoints. Used by `triage fix` and the bot's write side."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["lab_writers", "live_writers"]


def lab_writers(endpoints: dict[str, Any]) -> dict[str, Any]:
    from checks.backends.psrp import PsrpSettings
    from checks.backends.winrm_host import WinrmSettings

    writer = endpoints["writer"]
    out: dict[str, Any] = {}
    for side, key in (("onprem", "psrp"), ("online", "psrp_online")):
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
