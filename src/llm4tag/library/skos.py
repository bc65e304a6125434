"""SKOS vocabularies (Turtle, RDF/XML, N-Triples, JSON-LD): the format most Annif users have (YSO, STW, GND,
MeSH exports), read with rdflib (extra ``[skos]``).

Every ``skos:Concept`` becomes a tag whose id is the concept URI (as in Annif): ``skos:prefLabel`` in the
project's language is the label (a label without a language tag, then any label, as fallbacks),
``skos:altLabel``s in that language are aliases, the first ``skos:broader`` concept of the vocabulary is the
parent, ``skos:definition`` (else ``skos:scopeNote``) is the description, and ``owl:deprecated true`` marks
the tag deprecated. The labels and aliases in every other language are kept too (``Tag.labels``,
``Tag.aliases_in``): the API answers in the reader's language, and text matching reads them all.
"""

from __future__ import annotations

import json
from pathlib import Path

from llm4tag.errors import ConfigError, InputError
from llm4tag.library.tags import ALT_LABELS, LABELS, Tag, TagLibrary

#: suffixes read as SKOS without being asked; any other (``.xml``) with ``--tags-format skos`` is read as RDF/XML
SUFFIXES = {".ttl": "turtle", ".rdf": "xml", ".owl": "xml", ".nt": "nt", ".jsonld": "json-ld"}


def _refuse_what_would_reach_out(path: Path, rdf_format: str) -> None:
    """Raise an :class:`InputError` for what a parser would fetch or expand: nothing is downloaded at run time,
    and an entity declared in a DTD can expand a 1 KB file into gigabytes (and quadratic parse time).

    RDF/XML: ``defusedxml`` reads the file once first and refuses any entity declaration. JSON-LD: a
    ``@context`` (or ``@import``) given by reference, a URL or a ``file:`` path, would be fetched; only
    contexts written inline in the file are read."""
    if rdf_format == "xml":
        import xml.sax

        from defusedxml import DefusedXmlException
        from defusedxml.sax import parse as defused_parse

        try:
            defused_parse(str(path), xml.sax.ContentHandler(), forbid_dtd=False, forbid_entities=True)
        except DefusedXmlException as exc:
            raise InputError(f"refused: the file declares XML entities ({exc}); remove its DTD", path=path) from None
        except xml.sax.SAXParseException as exc:
            raise InputError(f"not valid xml RDF: {exc.getMessage()}", path=path, line=exc.getLineNumber()) from None
    elif rdf_format == "json-ld":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"not valid JSON-LD: {exc}", path=path) from None
        reference = _context_reference(document)
        if reference is not None:
            raise InputError(
                f"the JSON-LD @context refers to {reference!r}, which would be fetched; llm4tag downloads nothing"
                " at run time: write the context into the file (an inline @context object)",
                path=path,
                field="@context",
            )


def _context_reference(node) -> str | None:
    """The first ``@context``/``@import`` in a JSON-LD document that names a context instead of holding it."""
    if isinstance(node, list):
        return next((found for item in node if (found := _context_reference(item)) is not None), None)
    if not isinstance(node, dict):
        return None
    for key in ("@context", "@import"):
        value = node.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                return item
    return next((found for value in node.values() if (found := _context_reference(value)) is not None), None)


def _parse(path: Path, rdf_format: str):
    try:
        import rdflib
    except ImportError:
        raise ConfigError("SKOS vocabularies need rdflib: pip install 'llm4tag[skos]'") from None
    _refuse_what_would_reach_out(path, rdf_format)
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


def _by_language(literals: list) -> dict[str, list[str]]:
    """Literal values by language tag (those without one left out), each list sorted: a stable order."""
    found: dict[str, list[str]] = {}
    for literal in literals:
        if literal.language and str(literal).strip():
            found.setdefault(literal.language, []).append(str(literal).strip())
    return {language: sorted(values) for language, values in sorted(found.items())}


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
        meta: dict = {"notation": notation[0]} if notation else {}
        in_languages = {lang: values[0] for lang, values in _by_language(texts(SKOS.prefLabel)).items()}
        if len(in_languages) > 1 or (in_languages and language not in in_languages):
            meta[LABELS] = in_languages
            alt_labels = _by_language(texts(SKOS.altLabel))
            if alt_labels:
                meta[ALT_LABELS] = alt_labels
        library.add(
            Tag(
                id=uri,
                label=labels[0],
                aliases=tuple(aliases),
                description=" ".join(description),
                parent=broader[0] if broader else None,
                deprecated=deprecated,
                meta=meta,
            )
        )
    return library
