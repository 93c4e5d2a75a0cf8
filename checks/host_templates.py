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

__all__ = ["TEMPLATES", "WRITE_TEMPLATES", "build_script", "encoded_command"]

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
            "if ($TriageArgs.until) { $filter.EndTime = [datetime]::Parse($TriageArgs.until, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind) }",
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
    # The clock against the domain's time source: w32tm only asks the source for its time.
    "clock": "\n".join(
        [
            '$source = "$(w32tm /query /source)".Trim()',
            "$offset = $null",
            "$peer = ($source -split ',')[0].Trim()",
            "if ($peer -and $peer -notmatch 'Local CMOS Clock|Free-running') {",
            "  $line = w32tm /stripchart /computer:$peer /samples:1 /dataonly 2>$null | Select-Object -Last 1",
            "  if ($line -match ',\\s*([+-]?\\d+(?:\\.\\d+)?)s') { $offset = [double]$Matches[1] }",
            "}",
            "[ordered]@{ utc = (Get-Date).ToUniversalTime().ToString('o'); source = $source; offset_seconds = $offset } | ConvertTo-Json -Compress",
        ]
    ),
    # Whether the endpoints hybrid needs answer at all (any HTTP status does), through the server's proxy.
    "outbound": "\n".join(
        [
            "$rows = @(foreach ($url in @($TriageArgs.urls)) {",
            "  $status = $null; $err = $null",
            "  try {",
            "    $request = [System.Net.WebRequest]::Create($url); $request.Method = 'HEAD'; $request.Timeout = 15000; $request.AllowAutoRedirect = $false",
            "    if ($TriageArgs.proxy) { $request.Proxy = New-Object System.Net.WebProxy($TriageArgs.proxy) }",
            "    $response = $request.GetResponse(); $status = [int]$response.StatusCode; $response.Close()",
            "  } catch {",
            "    $e = $_.Exception; if ($e.InnerException) { $e = $e.InnerException }",
            "    if ($e.Response) { $status = [int]$e.Response.StatusCode } else { $err = $e.Message }",
            "  }",
            "  [ordered]@{ url = $url; status = $status; error = $err }",
            "})",
            _ARRAY,
        ]
    ),
    "services": "\n".join(
        [
            "$stopped = @(Get-Service -Name 'MSExchange*' -ErrorAction SilentlyContinue | Where-Object { $_.StartType -eq 'Automatic' -and $_.Status -ne 'Running' } | ForEach-Object { $_.Name })",
            "Import-Module WebAdministration -ErrorAction SilentlyContinue",
            '$pools = @(foreach ($name in @($TriageArgs.app_pools)) { [ordered]@{ name = $name; state = "$((Get-WebAppPoolState -Name $name -ErrorAction SilentlyContinue).Value)" } })',
            "[ordered]@{ stopped_services = $stopped; app_pools = $pools } | ConvertTo-Json -Depth 4 -Compress",
        ]
    ),
    "iis-config": "\n".join(
        [
            "Import-Module WebAdministration",
            "$bindings = @(Get-WebBinding -Name 'Exchange Back End' -Protocol https -ErrorAction SilentlyContinue | ForEach-Object {",
            '  $hash = "$($_.certificateHash)"',
            "  [ordered]@{ binding = $_.bindingInformation; certificate_hash = $hash; certificate_found = [bool]($hash -and (Test-Path -LiteralPath ('Cert:\\LocalMachine\\' + $_.certificateStoreName + '\\' + $hash))) }",
            "})",
            "$handlers = @(foreach ($path in @($TriageArgs.handler_paths)) {",
            "  $names = @(Get-WebHandler -PSPath ('IIS:\\Sites\\Default Web Site\\' + $path) -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })",
            "  [ordered]@{ path = $path; svc_integrated = [bool]($names | Where-Object { $_ -like 'svc-Integrated*' }) }",
            "})",
            "[ordered]@{ back_end = $bindings; handlers = $handlers } | ConvertTo-Json -Depth 4 -Compress",
        ]
    ),
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


# The write templates a remediation may run with the write account (never through the read-only host port,
# which knows only TEMPLATES). Same contract: a fixed body, the values as JSON data.
WRITE_TEMPLATES: Mapping[str, str] = {
    # On the Exchange Online management host, with the write app: app-only Connect-ExchangeOnline limited to
    # the write cmdlets below (a literal list the arguments cannot widen), one call with its values splatted
    # from JSON data (never parsed as script), one disconnect. The process checked the call first
    # (`checks.writes.guard_write`); this list is the host's own second line.
    "exo-write": "\n".join(
        [
            "$allowed = @('Set-OrganizationRelationship', 'Add-MailboxFolderPermission', 'Remove-MailboxFolderPermission', 'Set-MailboxFolderPermission')",
            "if ($allowed -notcontains $TriageArgs.name) { throw ('not on the write list: ' + $TriageArgs.name) }",
            "Import-Module ExchangeOnlineManagement -ErrorAction Stop",
            "Connect-ExchangeOnline -AppId $TriageArgs.app_id -CertificateThumbprint $TriageArgs.certificate_thumbprint -Organization $TriageArgs.organization -CommandName $allowed -ShowBanner:$false -ErrorAction Stop",
            "try {",
            "  $p = @{}; if ($TriageArgs.params) { $TriageArgs.params.PSObject.Properties | ForEach-Object { $p[$_.Name] = $_.Value } }",
            "  $out = @(& $TriageArgs.name @p -ErrorAction Stop | Select-Object -Property *)",
            "} finally { Disconnect-ExchangeOnline -Confirm:$false | Out-Null }",
            "ConvertTo-Json -InputObject $out -Depth 4 -Compress",
        ]
    ),
    "iis-require-ssl": "\n".join(
        [
            "Import-Module WebAdministration",
            "$location = $TriageArgs.site + '/' + $TriageArgs.path",
            "Set-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' -Location $location -Filter 'system.webServer/security/access' -Name sslFlags -Value 'Ssl'",
            "$flags = [string](Get-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' -Location $location -Filter 'system.webServer/security/access' -Name sslFlags)",
            "@([ordered]@{ path = $TriageArgs.path; ssl_flags = $flags; require_ssl = (($flags -split ',') -contains 'Ssl') }) | ConvertTo-Json -Compress",
        ]
    ),
}


def build_script(template: str, args: Mapping[str, Any], templates: Mapping[str, str] = TEMPLATES) -> str:
    """The script for `template` with `args` as a base64 JSON literal; KeyError for an unknown template."""
    body = templates[template]
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
