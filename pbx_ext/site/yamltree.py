"""Reading the site file: YAML text in, plain data out, with the place of every value.

``yaml.safe_load`` loses what good messages need and lets some files do harm:

- of two identical keys it keeps the last one, without a word;
- it forgets where each value was, and how it was written (``0123`` is just 83 afterwards);
- it expands aliases without limit: a 1 KiB "billion laughs" file becomes gigabytes.

So PyYAML only *composes* the node graph here (that is linear in the file size), and
:class:`_Walker` builds the data itself. It counts every node it visits, aliases included, and
stops at :data:`MAX_NODES`; it reports duplicate keys, refuses secrets, and records a
:class:`Spot` (line, column, text as written) for every value and every key.

Limits, each reported as a problem rather than raised: at most :data:`MAX_BYTES` of UTF-8, one
YAML document, :data:`MAX_NODES` values, :data:`MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pbx_ext.site.messages import Path, Problem, dotted, show

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 20

_YAML_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _YAML_TAG + "map"
_SEQ_TAG = _YAML_TAG + "seq"
_STR_TAG = _YAML_TAG + "str"
_MERGE_TAG = _YAML_TAG + "merge"
_NULL_TAG = _YAML_TAG + "null"
# YAML 1.1 reads "1:2:3:..." as a base-60 number, and building it takes time quadratic in its
# length; no number in a site file is this long, so longer ones are not built at all.
_LONGEST_NUMBER = 64
_BOM = "\ufeff"

_SECRET_KEYS = frozenset({"password", "passwd", "secret"})
SECRET_MESSAGE = (
    "passwords do not belong in the site file; set password_env: TRUNK_PASSWORD and "
    "export TRUNK_PASSWORD=... (user and phone SIP passwords are generated into the secrets file)"
)


@dataclass(frozen=True)
class Spot:
    """Where a value or key was written (1-based), and how: the text of a scalar as written
    (for "write it in quotes" advice), and whether it was written without quotes."""

    line: int
    column: int
    text: str | None = None
    plain: bool = False


_START = Spot(1, 1)


@dataclass
class Document:
    """What was read: ``data`` (``None`` when the file could not be read at all), the spot of
    every value and key by path, and the problems found while reading.

    ``reported`` holds paths whose value was already reported and replaced by ``None``; later
    checks stay quiet about them, so one mistake gives one problem.
    """

    data: dict[str, object] | None = None
    values: dict[Path, Spot] = field(default_factory=dict)
    keys: dict[Path, Spot] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    reported: set[Path] = field(default_factory=set)

    def spot(self, path: Path) -> Spot:
        """Where the value at ``path`` was written, or its nearest parent that was."""
        for end in range(len(path), -1, -1):
            spot = self.values.get(path[:end])
            if spot is not None:
                return spot
        return _START

    def key_spot(self, path: Path) -> Spot:
        """Where the key of ``path`` was written; unknown keys are reported there."""
        return self.keys.get(path) or self.spot(path)

    def mention(self, path: Path) -> str:
        """Name another value in a message: ``users[0].extension (line 4)``."""
        spot = self.values.get(path)
        return f"{dotted(path)} (line {spot.line})" if spot else f"{dotted(path)}, the default"

    def was_reported(self, path: Path) -> bool:
        """Whether this value, or one containing it, already has its problem."""
        return any(path[:end] in self.reported for end in range(len(path) + 1))


def read_document(source: str | bytes) -> Document:
    """Read the site file's text; problems go into the document, nothing is raised.

    >>> read_document(b"users: []\\nusers: []\\n").problems[0].message
    "duplicate key 'users' (first at line 1)"
    """
    document = Document()
    try:
        root = _compose(_decode(source))
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
            raise _Fatal(Problem(1, 1, (), "the file is empty; a site needs 'site:' and 'users:'"))
        if not isinstance(root, MappingNode):
            kind = "a list" if isinstance(root, SequenceNode) else f"the text {show(root.value)}"
            raise _Fatal(
                _problem_at(
                    root, (), f"the top level must be sections (site:, users:, ...), not {kind}"
                )
            )
        document.data = _Walker(document).root(root)
    except _Fatal as fatal:
        document.data = None
        document.problems.append(fatal.problem)
    return document


class _Fatal(Exception):
    """A problem after which nothing more can be read."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _decode(source: str | bytes) -> str:
    if isinstance(source, str):
        size = len(source)
        if size <= MAX_BYTES:
            size = len(source.encode("utf-8", "surrogatepass"))
    else:
        size = len(source)
    if size > MAX_BYTES:
        raise _Fatal(
            Problem(
                1, 1, (), f"the file is over {MAX_BYTES} bytes (1 MiB), too big for a site file"
            )
        )
    if isinstance(source, str):
        return source.removeprefix(_BOM)
    try:
        return source.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as error:
        line = source.count(b"\n", 0, error.start) + 1
        line_start = source.rfind(b"\n", 0, error.start) + 1
        column = len(source[line_start : error.start].decode("utf-8", "replace")) + 1
        message = f"not valid UTF-8 (byte 0x{source[error.start]:02x}); save the file as UTF-8"
        raise _Fatal(Problem(line, column, (), message)) from None


class _TooDeep(yaml.composer.ComposerError):
    """Nesting past :data:`MAX_DEPTH`: not a syntax error, but as fatal."""


class _ShallowLoader(yaml.SafeLoader):
    """A SafeLoader that refuses nesting past :data:`MAX_DEPTH` while composing.

    PyYAML composes recursively, and its scanner does work quadratic in the nesting depth of
    flow collections: 1 KiB of ``[[[[...`` took a second before Python's recursion limit
    stopped it. Stopping at a depth no site file reaches keeps that cheap.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self._depth >= MAX_DEPTH:
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped stub
            mark = event.start_mark if isinstance(event.start_mark, yaml.error.Mark) else None
            raise _TooDeep(None, None, f"nested over {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> Node | None:
    loader: _ShallowLoader | None = None
    try:
        loader = _ShallowLoader(text)
        node: Node | None = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise _Fatal(_syntax_problem(error)) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = f"the character #x{error.character:04x} is not allowed in YAML"
        raise _Fatal(Problem(line, column, (), message)) from None
    except yaml.YAMLError as error:
        raise _Fatal(Problem(1, 1, (), f"YAML error: {_one_line(str(error))}")) from None
    except RecursionError:
        raise _Fatal(Problem(1, 1, (), "the YAML is nested too deeply")) from None
    finally:
        if loader is not None:
            loader.dispose()
    return node


def _syntax_problem(error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if error.context == "expected a single document in the stream":
        return Problem(line, column, (), "a site file is one YAML document; remove this '---'")
    if isinstance(error, _TooDeep):
        return Problem(line, column, (), f"{error.problem}; a site file needs far fewer")
    message = f"YAML syntax error: {error.problem or 'unexpected content'}"
    if error.context and error.context_mark:
        message += f" ({error.context}, line {error.context_mark.line + 1})"
    if "\\t" in message:
        message += "; YAML indents with spaces, not tabs"
    return Problem(line, column, (), _one_line(message))


def _short_tag(tag: str) -> str:
    """Tags as written: ``tag:yaml.org,2002:set`` is ``!!set`` in the file."""
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _spot(node: Node) -> Spot:
    mark = node.start_mark
    if isinstance(node, ScalarNode):
        return Spot(mark.line + 1, mark.column + 1, node.value, node.style is None)
    return Spot(mark.line + 1, mark.column + 1)


def _problem_at(node: Node, path: Path, message: str) -> Problem:
    mark = node.start_mark
    return Problem(mark.line + 1, mark.column + 1, path, message)


def _is_secret(key: str) -> bool:
    key = key.lower()
    return key in _SECRET_KEYS or key.endswith(("_password", "_secret"))


_Entry = tuple[Node, Node, bool]
"""A key node, its value node, and whether it came in through a ``<<`` merge."""


class _Walker:
    """Turns composed nodes into dicts, lists and scalars, filling in a :class:`Document`."""

    def __init__(self, document: Document) -> None:
        self._document = document
        self._constructor = SafeConstructor()
        self._visited = 0

    def root(self, node: MappingNode) -> dict[str, object]:
        """The data of the whole document."""
        self._visit(node, 0)
        self._document.values[()] = _spot(node)
        return self._mapping(node, (), 0)

    def _value(self, node: Node, path: Path, depth: int) -> object:
        self._visit(node, depth)
        self._document.values[path] = _spot(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _SEQ_TAG, path)
            return [self._value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)  # the composer makes no other kind of node
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, object]:
        # Keys are taken as written: "on:" stays "on", where YAML 1.1 would make it True.
        self._check_tag(node, _MAP_TAG, path)
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node, merged in self._entries(node, path, depth):
            if not isinstance(key_node, ScalarNode):
                self._report(key_node, path, "a key must be a plain word, not a list or mapping")
                continue
            key = key_node.value
            key_path = (*path, key)
            if key in first_line:
                # A key from a << merge is overridden on purpose; a repeated key is a mistake.
                if not merged:
                    message = f"duplicate key {show(key)} (first at line {first_line[key]})"
                    self._report(key_node, key_path, message)
                continue
            first_line[key] = key_node.start_mark.line + 1
            if _is_secret(key):
                # The value is neither kept nor shown: it may well be the password.
                self._report(key_node, key_path, SECRET_MESSAGE)
                continue
            self._document.keys[key_path] = _spot(key_node)
            result[key] = self._value(value_node, key_path, depth + 1)
        return result

    def _entries(self, node: MappingNode, path: Path, depth: int) -> list[_Entry]:
        """The mapping's own entries, then those merged in with ``<<: *alias``."""
        own: list[_Entry] = []
        merged: list[_Entry] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node, False))
                continue
            self._visit(value_node, depth + 1)
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(
                        (k, v, True) for k, v, _ in self._entries(source, path, depth + 1)
                    )
                else:
                    self._report(source, (*path, "<<"), "<< merges a mapping, e.g. <<: *defaults")
        return own + merged

    def _scalar(self, node: ScalarNode, path: Path) -> object:
        if node.tag == _STR_TAG:
            return node.value
        if len(node.value) > _LONGEST_NUMBER:
            return self._unreadable(node, path, f"{show(node.value)} is too long; quote it")
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):
            if not node.tag.startswith(_YAML_TAG):
                return self._unreadable(
                    node, path, f"the YAML tag {_short_tag(node.tag)} is not used here"
                )
            kind = node.tag.removeprefix(_YAML_TAG)
            message = f"{show(node.value)} cannot be read as {kind}; write it in quotes"
            return self._unreadable(node, path, message)

    def _unreadable(self, node: Node, path: Path, message: str) -> object:
        """Report a scalar that cannot be read; ``None`` stands in for it."""
        self._report(node, path, message)
        self._document.reported.add(path)
        return None

    def _check_tag(self, node: Node, expected: str, path: Path) -> None:
        if node.tag != expected:
            self._report(node, path, f"the YAML tag {_short_tag(node.tag)} is not used here")

    def _report(self, node: Node, path: Path, message: str) -> None:
        self._document.problems.append(_problem_at(node, path, message))

    def _visit(self, node: Node, depth: int) -> None:
        self._visited += 1
        if self._visited > MAX_NODES:
            raise _Fatal(
                _problem_at(
                    node,
                    (),
                    f"the file expands to over {MAX_NODES} values: are aliases (*name) repeating "
                    "large parts of it? A site file needs far fewer",
                )
            )
        if depth > MAX_DEPTH:
            raise _Fatal(_problem_at(node, (), f"nested over {MAX_DEPTH} levels deep"))
