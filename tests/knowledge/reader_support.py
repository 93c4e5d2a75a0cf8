"""The reader's inputs for tests: the bundled fact registry and signatures, read without the causes.

The reader's tests need only facts.yaml and signatures/*.yaml, so they read those two directly and
stay independent of the rest of the knowledge base.
"""

from __future__ import annotations

from typing import Any

from knowledge.loader import DATA_DIR
from knowledge.model import FactSpec, Signature
from knowledge.reader.error_text import read_error_text
from knowledge.yamlio import read_yaml
from tests.texts import pasted_text

FACTS: dict[str, FactSpec] = {
    name: FactSpec.model_validate(spec) for name, spec in read_yaml(DATA_DIR / "facts.yaml")["facts"].items()
}
SIGNATURES: list[Signature] = [
    Signature.model_validate(raw)
    for path in sorted((DATA_DIR / "signatures").glob("*.yaml"))
    for raw in read_yaml(path)["signatures"]
]


def read(text: str) -> dict[str, Any]:
    """read_error_text with the bundled signatures and fact registry."""
    return read_error_text(text, signatures=SIGNATURES, facts=FACTS)


def paste(name: str) -> str:
    return pasted_text(name)
