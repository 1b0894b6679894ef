"""Load the site file: every problem at once, each on its own line, or a checked :class:`Site`.

Three passes, whose problems are merged and sorted into file order:

1. :mod:`~pbx_ext.site.yamltree` reads the YAML into plain data, noting where each value was
   written (syntax, encoding, size, duplicate keys, secrets, alias bombs);
2. pydantic validates the data against :mod:`~pbx_ext.site.model`; each error's location is
   mapped back to the line and column of the value (of the key, for an unknown key; of the
   enclosing mapping, for a missing one);
3. :mod:`~pbx_ext.site.checks` checks references and uniqueness across entries, on the entries
   that passed 2, so a typo in one user does not hide a duplicate MAC elsewhere.

A problem reads ``site.yaml:23:7: users[2].extension: '10a1' is not a valid extension (digits
only)``. Nothing but :class:`~pbx_ext.errors.SiteError` is raised, whatever the input.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pbx_ext.errors import SiteError
from pbx_ext.site.checks import Parts, site_problems
from pbx_ext.site.destinations import Directory
from pbx_ext.site.messages import Path, Problem, show, yaml_reading
from pbx_ext.site.model import (
    UNION_TAGS,
    Dialing,
    Group,
    LoadContext,
    Network,
    Phone,
    Site,
    Trunk,
    User,
)
from pbx_ext.site.yamltree import MAX_BYTES, Document, Spot, read_document

M = TypeVar("M", bound=BaseModel)


def load_site(path: str | os.PathLike[str]) -> Site:
    """Load and check a site file.

    >>> site = load_site("examples/office.yaml")  # doctest: +SKIP
    >>> site.user("1001").name  # doctest: +SKIP
    'Alice Martin'

    Raises :class:`~pbx_ext.errors.SiteError` listing every problem, the file's own name first
    on each line, as given here.
    """
    return parse_site(read_site_bytes(path), os.fspath(path))


def read_site_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, at most one past the size limit (``parse_site`` reports the excess)."""
    try:
        with open(path, "rb") as file:
            # One byte over the limit is enough to know it is too big; /dev/zero stays harmless.
            return file.read(MAX_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SiteError(
            [Problem(1, 1, (), f"cannot read the file: {reason}").render(os.fspath(path))]
        ) from None


def parse_site(text: str | bytes, filename: str) -> Site:
    """Check a site file already in memory; ``filename`` only labels the problems.

    >>> parse_site("site: {name: Lab}\\nusers: []\\n", "lab.yaml")
    Traceback (most recent call last):
    pbx_ext.errors.SiteError: lab.yaml:1:7: site.domain: required, but missing
    lab.yaml:1:7: site.timezone: required, but missing
    """
    document = read_document(text)
    data = document.data
    site, problems = (None, []) if data is None else _validate(data, document)
    problems = [*document.problems, *problems]
    if problems or site is None:
        raise SiteError(_render(problems, filename))
    return site


def _validate(data: dict[str, object], document: Document) -> tuple[Site | None, list[Problem]]:
    """Passes 2 and 3: the models, then the checks across entries."""
    directory = _directory(data)
    context = LoadContext(directory=directory)
    problems: list[Problem] = []
    site: Site | None = None
    try:
        site = Site.model_validate(data, context=context)
        parts = Parts.of(site)
    except ValidationError as error:
        problems += _validation_problems(error, document)
        parts = _valid_parts(data, context)
    for path, message in site_problems(parts, directory, document.mention):
        spot = document.spot(path)
        problems.append(Problem(spot.line, spot.column, path, message))
    return site, problems


def _render(problems: Sequence[Problem], filename: str) -> list[str]:
    lines = [problem.render(filename) for problem in sorted(problems, key=Problem.position)]
    return list(dict.fromkeys(lines))


def _directory(data: dict[str, object]) -> Directory:
    """The internal numbers as written, even in entries that fail validation.

    Destinations are resolved against these, and references are checked against them: a
    user whose e-mail is mistyped still exists, so a phone line naming them is not an error.
    """
    users: dict[str, bool] = {}
    for item in _items(data.get("users")):
        extension = item.get("extension")
        voicemail = item.get("voicemail", True)
        if isinstance(extension, str):
            # An invalid voicemail value is reported on its own; assume a mailbox meanwhile.
            users.setdefault(extension, voicemail if isinstance(voicemail, bool) else True)
    groups = frozenset(
        number
        for item in _items(data.get("groups"))
        if isinstance(number := item.get("number"), str)
    )
    return Directory(users=users, groups=groups)


def _items(section: object) -> Iterator[dict[str, object]]:
    if isinstance(section, list):
        yield from (item for item in section if isinstance(item, dict))


def _valid_parts(data: dict[str, object], context: LoadContext) -> Parts:
    """The entries that validate on their own, at their positions in the file."""
    return Parts(
        users=_valid_entries(data.get("users"), User, context),
        phones=_valid_entries(data.get("phones"), Phone, context),
        groups=_valid_entries(data.get("groups"), Group, context),
        trunks=_valid_entries(data.get("trunks"), Trunk, context),
        dialing=_valid_entry(data.get("dialing", {}), Dialing, context),
        network=_valid_entry(data.get("network", {}), Network, context),
    )


def _valid_entries(section: object, model: type[M], context: LoadContext) -> list[tuple[int, M]]:
    if not isinstance(section, list):
        return []
    entries = [(i, _valid_entry(item, model, context)) for i, item in enumerate(section)]
    return [(i, entry) for i, entry in entries if entry is not None]


def _valid_entry(raw: object, model: type[M], context: LoadContext) -> M | None:
    try:
        return model.model_validate(raw, context=context)
    except ValidationError:
        return None  # its problems came from validating the whole site


# --- pydantic errors to problems ---------------------------------------------------------------


def _validation_problems(error: ValidationError, document: Document) -> Iterator[Problem]:
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        # Drop the union member names pydantic inserts ("keys", 0, "BlfKey", "blf"), except a
        # last element, which is an unknown key as the admin wrote it.
        path: Path = tuple(p for p in loc[:-1] if p not in UNION_TAGS) + loc[-1:]
        if document.was_reported(path):
            continue
        kind = detail["type"]
        if kind == "extra_forbidden":
            spot = document.key_spot(path)
            message = _unknown_key(loc)
        elif kind == "missing":
            spot = document.spot(path[:-1])
            message = "required, but missing"
        else:
            spot = document.spot(path)
            message = _message(detail, document.values.get(path))
        yield Problem(spot.line, spot.column, path, message)


def _message(detail: ErrorDetails, spot: Spot | None) -> str:
    value: object = detail["input"]
    match detail["type"]:
        case "value_error":
            return str(detail.get("ctx", {}).get("error", detail["msg"]))
        case "string_type":
            return _needs_text(value, spot)
        case "int_type" | "int_parsing":
            return f"expected a whole number, got {_found(value, spot)}"
        case "bool_type" | "bool_parsing":
            return f"expected true or false, got {_found(value, spot)}"
        case "model_type" | "model_attributes_type" | "dict_type":
            return f"expected a mapping (key: value lines), got {_found(value, spot)}"
        case "tuple_type" | "list_type":
            return f"expected a list, got {_found(value, spot)}"
        case _:
            return str(detail["msg"])


def _needs_text(value: object, spot: Spot | None) -> str:
    """Text was needed. Explain YAML 1.1's reading of an unquoted scalar, quoting it back."""
    if isinstance(value, dict | list):
        return f"expected text, got {show(value)}"
    if spot is None or spot.text is None or not spot.plain:
        return f"expected text, got {show(value)}"
    if value is None and spot.text == "":
        return "no value given"
    reading = yaml_reading(value, spot.text)
    return f'{spot.text} was read as {reading}; write it in quotes: "{spot.text}"'


def _found(value: object, spot: Spot | None) -> str:
    if isinstance(value, str):
        return f"the text {show(value)}"
    if value is None and spot is not None and spot.text == "":
        return "nothing"
    return show(value)


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1])
    allowed = _fields_at(loc[:-1])
    if not allowed:
        return f"unknown key {show(key)}"
    close = difflib.get_close_matches(key.lower(), allowed, n=1)
    if close:
        return f"unknown key {show(key)}; did you mean {show(close[0])}?"
    return f"unknown key {show(key)}; allowed keys: {', '.join(allowed)}"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc``, found by following the model's types."""
    models: list[type[BaseModel]] = [Site]
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: the item type was already unwrapped
        tagged = [model for model in models if model.__name__ == part]
        if tagged:
            models = tagged
            continue
        models = [
            inner
            for model in models
            if part in model.model_fields
            for inner in _models_in(model.model_fields[part].annotation)
        ]
    return [name for model in models for name in model.model_fields]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models inside a field type: ``tuple[Phone, ...]`` and ``Network | None`` alike."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]
