"""How long the error-text reader takes on a 1 MiB paste (the most it accepts). Not a test: a measurement.

    .venv/bin/python -m bench.reader [--runs N]

Prints the best and median wall time of N runs (and the best CPU time) for a realistic paste (event-log entries, an XML entry, a
Fiddler JSON body and a test-cmdlet table, repeated with varying times and process ids, among noise
lines) and for pathological pastes built to defeat the reader's shortcuts, against the 100 ms target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from knowledge.reader.error_text import MAX_PASTE_BYTES, read_error_text

TARGET_MS = 100.0
PASTES = Path(__file__).resolve().parent.parent / "tests" / "knowledge" / "pastes"
SAMPLES = (
    "event-4002-rendered.txt",
    "seed-002-event-42.txt",
    "event-4002.xml",
    "fiddler-owa-availability.json",
    "test-federationtrust-table.txt",
    "seed-000-article.txt",
)
NOISE = (
    "2026-11-20 09:14:{s:02d} 10.0.0.{n} POST /EWS/Exchange.asmx - 443 - 10.0.1.{n} ASProxy/CrossSite 200 0 0 {n}",
    "W3SVC1 {n} GET /owa/ &ClientId={n}&CorrelationID=<empty>;&cafeReqId={n}; 443 contoso\\user{n} 302 0 0 15",
    "Get-MailboxFolderPermission user{n}:\\Calendar | ft User,AccessRights   # checked at 09:{s:02d}",
)


def fit(text: str) -> str:
    """`text` cut to at most MAX_PASTE_BYTES of UTF-8, on a character boundary."""
    return text.encode("utf-8")[:MAX_PASTE_BYTES].decode("utf-8", errors="ignore")


def realistic(seed: int = 7) -> str:
    rng = random.Random(seed)
    samples = [(PASTES / name).read_text(encoding="utf-8") for name in SAMPLES]
    parts: list[str] = []
    size = 0
    while size < MAX_PASTE_BYTES:
        sample = rng.choice(samples).replace("6424", str(rng.randrange(1000, 9999)))
        sample = sample.replace("9:14:02", f"9:{rng.randrange(60):02d}:{rng.randrange(60):02d}")
        noise = "\n".join(
            rng.choice(NOISE).format(n=rng.randrange(1, 250), s=rng.randrange(60)) for _ in range(20)
        )
        parts += [sample, noise, "\n"]
        size += len(sample) + len(noise) + 1
    return fit("".join(parts))


def pathological() -> dict[str, str]:
    """Pastes that defeat the shortcuts: one long word, anchor words that never match, no separators."""
    rng = random.Random(11)
    anchors = "Event Error Exception ProxyWebRequest LID HTTP Status Source Id : Type -- url from not "
    return {
        "one character": "a" * MAX_PASTE_BYTES,
        "anchor words, no facts": fit(anchors * (MAX_PASTE_BYTES // len(anchors) + 1)),
        "random letters": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(MAX_PASTE_BYTES)),
        "random printable": "".join(
            rng.choice(" \n\t!\"#%&'()*,-./:;<=>?@[\\]^_`{|}~aeiou0123") for _ in range(MAX_PASTE_BYTES)
        ),
        "backslashes and quotes": fit('\\"\\u00' * (MAX_PASTE_BYTES // 7 + 1)),
    }


def measure(read: Callable[[str], object], text: str, runs: int) -> tuple[float, float, float]:
    """Best and median wall time, and best CPU time, in ms (CPU time is what a busy machine cannot inflate)."""
    read(text)  # warm: compiled patterns and scan plans are cached per process
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        read(text)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return min(wall), statistics.median(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per paste (default 9)")
    args = parser.parse_args()
    pastes = {"realistic (repeated events + noise)": realistic(), **pathological()}
    print(f"error-text reader, 1 MiB pastes, {args.runs} runs each; target: under {TARGET_MS:.0f} ms")
    for name, text in pastes.items():
        best, median, cpu = measure(read_error_text, text, args.runs)
        verdict = "ok" if best < TARGET_MS else "OVER"
        size = len(text.encode("utf-8")) / 1024
        print(
            f"  {name:<36} {size:5.0f} KiB  best {best:6.1f} ms  median {median:6.1f} ms"
            f"  cpu {cpu:6.1f} ms  {verdict}"
        )


if __name__ == "__main__":
    main()
