"""The fixed, read-only PowerShell templates the host port runs on a Windows server.

Every script is: a header naming the template, `$TriageArgs` decoded from a base64 JSON literal, and a
fixed body that only reads. Values reach the script as JSON data inside the literal, never as script
text, so nothing a user typed can change what runs. The lab reads the header and the literal; a real
server runs the body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["TEMPLATES", "build_script", "encoded_command"]

_ARRAY = "ConvertTo-Json -InputObject @($rows) -Depth 5 -Compress"

TEMPLATES: Mapping[str, str] = {
    "registry-values": "\n".join(
        [
            "$item = Get-ItemProperty -LiteralPath $TriageArgs.path -ErrorAction SilentlyContinue",
            "$out = [ordered]@{}",
            "foreach ($name in $TriageArgs.names) {",
            "  $out[$name] = if ($item -and $item.PSObject.Properties[$name]) { $item.$name } else { $null }",
            "}",
            "$out | ConvertTo-Json -Depth 5 -Compress",
        ]
    ),
    "win-events": "\n".join(
        [
            "$since = [datetime]::Parse($TriageArgs.since, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind)",
            "$filter = @{ LogName = $TriageArgs.log; ProviderName = @($TriageArgs.providers); Id = @($TriageArgs.ids); StartTime = $since }",
            "$rows = @(Get-WinEvent -FilterHashtable $filter -MaxEvents $TriageArgs.max -ErrorAction SilentlyContinue | ForEach-Object {",
            "  [ordered]@{ time_created = $_.TimeCreated.ToUniversalTime().ToString('o'); provider = $_.ProviderName; id = $_.Id; level = $_.LevelDisplayName; message = $_.Message }",
            "})",
            _ARRAY,
        ]
    ),
    "cert-store": "\n".join(
        [
            "$rows = @(Get-ChildItem -Path Cert:\\LocalMachine\\My | Where-Object { @($TriageArgs.thumbprints) -contains $_.Thumbprint } | ForEach-Object {",
            "  [ordered]@{ thumbprint = $_.Thumbprint; subject = $_.Subject; not_after = $_.NotAfter.ToUniversalTime().ToString('o'); has_private_key = $_.HasPrivateKey }",
            "})",
            _ARRAY,
        ]
    ),
    "iis-ssl": "\n".join(
        [
            "Import-Module WebAdministration",
            "$rows = @(foreach ($path in $TriageArgs.paths) {",
            "  $flags = [string](Get-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' -Location ($TriageArgs.site + '/' + $path) -Filter 'system.webServer/security/access' -Name sslFlags)",
            "  [ordered]@{ path = $path; ssl_flags = $flags; require_ssl = (($flags -split ',') -contains 'Ssl') }",
            "})",
            _ARRAY,
        ]
    ),
    "hostname": "@{ fqdn = [System.Net.Dns]::GetHostEntry('').HostName } | ConvertTo-Json -Compress",
    # On the Exchange Online management host: app-only Connect-ExchangeOnline with a certificate, then
    # each requested cmdlet, but only those on the literal list below (the arguments cannot widen it).
    "exo-cmdlets": "\n".join(
        [
            "$allowed = @('Get-OrganizationConfig', 'Get-OrganizationRelationship', 'Get-IntraOrganizationConnector', 'Get-SharingPolicy', 'Get-AcceptedDomain', 'Get-FederationTrust', 'Get-Recipient', 'Get-CASMailbox', 'Get-DistributionGroupMember')",
            "Import-Module ExchangeOnlineManagement -ErrorAction Stop",
            "Connect-ExchangeOnline -AppId $TriageArgs.app_id -CertificateThumbprint $TriageArgs.certificate_thumbprint -Organization $TriageArgs.organization -CommandName $allowed -ShowBanner:$false -ErrorAction Stop",
            "$out = [ordered]@{}",
            "try {",
            "  foreach ($name in @($TriageArgs.cmdlets)) {",
            "    if ($allowed -notcontains $name) { $out[$name] = @{ error = 'not on the read-only list' }; continue }",
            "    try { $out[$name] = @(& $name -ErrorAction Stop | Select-Object -Property *) } catch { $out[$name] = @{ error = $_.Exception.Message } }",
            "  }",
            # Calls with parameters: the values arrive as JSON data and are splatted, never parsed as script.
            "  $index = 0",
            "  foreach ($call in @($TriageArgs.calls | Where-Object { $_ })) {",
            "    $key = 'call:' + $index; $index++",
            "    if ($allowed -notcontains $call.name) { $out[$key] = @{ error = 'not on the read-only list' }; continue }",
            "    $p = @{}; if ($call.params) { $call.params.PSObject.Properties | ForEach-Object { $p[$_.Name] = $_.Value } }",
            "    try { $out[$key] = @(& $call.name @p -ErrorAction Stop | Select-Object -Property *) } catch { $out[$key] = @{ error = $_.Exception.Message } }",
            "  }",
            "} finally { Disconnect-ExchangeOnline -Confirm:$false | Out-Null }",
            "$out | ConvertTo-Json -Depth 4 -Compress",
        ]
    ),
}


def build_script(template: str, args: Mapping[str, Any]) -> str:
    """The script for `template` with `args` as a base64 JSON literal; KeyError for an unknown template."""
    body = TEMPLATES[template]
    literal = base64.b64encode(json.dumps(dict(args), ensure_ascii=False).encode("utf-8")).decode("ascii")
    return (
        f"# exchange-triage: {template}\n"
        f"$TriageArgs = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{literal}')) | ConvertFrom-Json\n"
        f"{body}\n"
    )


def encoded_command(script: str) -> list[str]:
    """powershell.exe arguments that run `script` (UTF-16LE base64, as -EncodedCommand wants)."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]
