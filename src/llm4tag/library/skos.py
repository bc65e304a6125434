"""SKOS vocabularies (Turtle, RDF/XML, N-Triples, JSON-LD): the format most Annif users have (YSO, STW, GND,
MeSH exports), read with rdflib (extra ``[skos]``).

Every ``skos:Concept`` becomes a tag whose id is the concept URI (as in Annif): ``skos:prefLabel`` in the
project's language is the label (a label without a language tag, then any label, as fallbacks),
``skos:altLabel``s in that language are aliases, the first ``skos:broader`` concept of the vocabulary is the
parent, ``skos:definition`` (else ``skos:scopeNote``) is the description, and ``owl:deprecated true`` marks
the tag deprecated.
"""

from __future__ import annotations

from pathlib import Path

from llm4tag.errors import ConfigError, InputError
from llm4tag.library.tags import Tag, TagLibrary

#: suffixes read as SKOS without being asked; any other (``.xml``) with ``--tags-format skos`` is read as RDF/XML
SUFFIXES = {".ttl": "turtle", ".rdf": "xml", ".owl": "xml", ".nt": "nt", ".jsonld": "json-ld"}


def _parse(path: Path, rdf_format: str):
    try:
        import rdflib
    except ImportError:
        raise ConfigError("SKOS vocabularies need rdflib: pip install 'llm4tag[skos]'") from None
    graph = rdflib.Graph()
    try:
        graph.parse(path, format=rdf_format)
    except Exception as exc:  # noqa: BLE001 - each parser has its own error types; all are the user's file
        line = getattr(exc, "lines", None)  # Turtle/N3 (0-based)
        line = line + 1 if isinstance(line, int) else None
        if line is None and hasattr(exc, "getLineNumber"):  # RDF/XML (SAX)
            line = exc.getLineNumber()
        text = str(exc).strip()
        message = getattr(exc, "message", None) or (text.splitlines()[0] if text else exc.__class__.__name__)
        raise InputError(f"not valid {rdf_format} RDF: {message}", path=path, line=line) from None
    return graph


def _in_language(literals: list, language: str) -> list[str]:
    """Literal values in ``language``; else those without a language tag; else all, in a stable order."""
    for keep in (lambda lit: lit.language == language, lambda lit: lit.language is None, lambda lit: True):
        found = sorted(str(lit).strip() for lit in literals if keep(lit) and str(lit).strip())
        if found:
            return found
    return []


def load_skos(path: str | Path, *, language: str = "en", rdf_format: str | None = None) -> TagLibrary:
    """Read the concepts of a SKOS file as a tag library."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import OWL, RDF, SKOS

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    rdf_format = rdf_format or SUFFIXES.get(path.suffix.lower(), "xml")
    graph = _parse(path, rdf_format)
    concepts = sorted({c for c in graph.subjects(RDF.type, SKOS.Concept) if isinstance(c, URIRef)}, key=str)
    if not concepts:
        raise InputError("no skos:Concept found; is this a SKOS vocabulary?", path=path)
    known = set(concepts)
    library = TagLibrary()
    for concept in concepts:
        uri = str(concept)

        def texts(predicate, concept=concept) -> list:
            return [o for o in graph.objects(concept, predicate) if isinstance(o, Literal)]

        labels = _in_language(texts(SKOS.prefLabel), language)
        if not labels:
            raise InputError(f"concept <{uri}> has no skos:prefLabel", path=path, field="prefLabel")
        aliases = [a for a in _in_language(texts(SKOS.altLabel), language) if a != labels[0]]
        description = _in_language(texts(SKOS.definition), language) or _in_language(texts(SKOS.scopeNote), language)
        broader = sorted(str(b) for b in graph.objects(concept, SKOS.broader) if b in known and b != concept)
        deprecated = any(str(v).lower() in ("true", "1") for v in graph.objects(concept, OWL.deprecated))
        notation = [str(n) for n in graph.objects(concept, SKOS.notation)]
        library.add(
            Tag(
                id=uri,
                label=labels[0],
                aliases=tuple(aliases),
                description=" ".join(description),
                parent=broader[0] if broader else None,
                deprecated=deprecated,
                meta={"notation": notation[0]} if notation else {},
            )
        )
    return library
