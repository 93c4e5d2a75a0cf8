"""The remediation runbook page and the pages shown for links that cannot be served.

Self-contained HTML (inline style, no script, no external resource); every value from the runbook is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from bot.runbook_schema import Runbook, RunbookStep

__all__ = ["error_page", "runbook_page"]

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1.05rem;margin:.2rem 0}
.meta{color:#555}.cause{background:#f3f2f1;padding:.8rem 1rem;border-left:4px solid #6264a7}
pre{background:#1e1e1e;color:#f3f3f3;padding:.7rem;overflow-x:auto;border-radius:4px;white-space:pre-wrap}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
ol.steps>li{margin-bottom:1.5rem}.changes{color:#a4262c;font-weight:600}.readonly{color:#107c10;font-weight:600}
""".strip()


def runbook_page(runbook: Runbook, *, expires_at: int) -> str:
    """The runbook as a page a person reads and follows."""
    parts = [
        f"<h1>{escape(runbook['title'])}</h1>",
        f'<p class="meta">Prepared for {escape(runbook["created_for"] or "the helpdesk")}; '
        f"this link expires {_when(expires_at)}.</p>",
        '<section class="cause"><h2>Cause</h2>',
        f"<p><strong>{escape(runbook['cause_title'] or runbook['cause_id'])}</strong> "
        f'<span class="meta">({escape(runbook["cause_id"])})</span></p>',
        f"<p>{escape(runbook['summary'])}</p></section>" if runbook["summary"] else "</section>",
        _parameters(runbook["parameters"]),
        "<h2>Steps</h2>",
        '<ol class="steps">',
        *(_step(step) for step in runbook["steps"]),
        "</ol>",
    ]
    return _document(runbook["title"], "\n".join(part for part in parts if part))


def error_page(title: str, message: str) -> str:
    return _document(title, f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>")


def _parameters(parameters: dict[str, str]) -> str:
    if not parameters:
        return ""
    rows = "".join(
        f"<tr><th scope='row'>{escape(name)}</th><td><code>{escape(value)}</code></td></tr>"
        for name, value in parameters.items()
    )
    return f"<h2>Parameters</h2>\n<table><tbody>{rows}</tbody></table>"


def _step(step: RunbookStep) -> str:
    effect = (
        '<p class="changes">Changes configuration.</p>'
        if step["changes"]
        else '<p class="readonly">Read-only: changes nothing.</p>'
    )
    parts = [f"<li><h3>{escape(step['summary'])}</h3>", effect]
    if step["commands"]:
        parts.append(_commands(step["commands"]))
    if step["risk"]:
        parts.append(f"<p><strong>Risk:</strong> {escape(step['risk'])}</p>")
    if step["verify"]:
        parts.append("<p><strong>How to verify:</strong></p>" + _commands(step["verify"]))
    if step["docs"]:
        links = "".join(
            f'<li><a href="{escape(url, quote=True)}" rel="noreferrer noopener">{escape(url)}</a></li>'
            for url in step["docs"]
        )
        parts.append(f"<p><strong>Documentation:</strong></p><ul>{links}</ul>")
    parts.append("</li>")
    return "\n".join(parts)


def _commands(commands: list[str]) -> str:
    return "".join(f"<pre><code>{escape(command)}</code></pre>" for command in commands)


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
