"""A live configuration naming a running lab, the way a deployment's file names its servers: Kerberos over
plain HTTP (message encryption), the SPNs of the servers' FQDNs (the lab listens on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from lab.runtime import RunningLab

PASSWORD_ENV = "TRIAGE_KRB_PASSWORD"
SECRET_ENV = "TRIAGE_KRB_SECRET"


def kerberos_config(lab: RunningLab, **overrides: Any) -> dict[str, Any]:
    return endpoints_config(lab.endpoints, lab.ctx.scenario.exchange_online.tenant, **overrides)


def endpoints_config(ep: dict[str, Any], tenant: str, **overrides: Any) -> dict[str, Any]:
    """The configuration for a lab known by its endpoints (the JSON line `triage lab up` prints)."""
    creds = ep["credentials"]
    psrp = urlsplit(ep["psrp_http"])
    ca = ep["ca_cert"]
    config: dict[str, Any] = {
        "kerberos": {"principal": creds["principal"], "password_env": PASSWORD_ENV},
        "exchange": {
            "server": psrp.hostname, "port": psrp.port, "path": "PowerShell", "ssl": False, "auth": "kerberos",
            "spn": "HTTP/ex01.contoso.com",
        },
        "winrm": {
            "endpoints": ep["winrm_http_servers"], "transport": "kerberos", "spn": "WSMAN/{server}.contoso.com",
            "operation_timeout": 2, "read_timeout": 3,
        },
        "ews": {"endpoint": ep["ews"], "auth": "basic", "username": creds["username"], "password_env": PASSWORD_ENV, "ca_file": ca},
        "graph": {
            "tenant_id": creds["tenant_id"], "client_id": creds["client_id"], "client_secret_env": SECRET_ENV,
            "authority": ep["token"], "graph_url": ep["graph"], "ca_file": ca, "exchange_online_ews": ep["ews"],
        },
        "exchange_online": {
            "management_host": "MGMT01", "organization": tenant,
            "app_id": creds["client_id"], "certificate_thumbprint": "A" * 40,
            "winrm": {"endpoints": {"MGMT01": ep["winrm_http"]}, "transport": "kerberos", "spn": "WSMAN/ex01.contoso.com"},
        },
        "probe": {"ca_file": ca, "hosts": ep["vdir_hosts"], "timeout": 3},
        "limits": {"check_seconds": 10, "triage_seconds": 20},
    }  # fmt: skip
    for section, values in overrides.items():
        if values is None:
            config.pop(section, None)
        else:
            config[section] = {**config.get(section, {}), **values}
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
