"""YAML specs: PyYAML's safe loader, plus what a spec needs that it lacks.

Scalars are read as OmegaConf reads them (so as Hydra's own config files, the
CLI and TOML specs give them): ``1e-4``, ``1E5`` and ``.5`` are floats, and
``2024-01-01`` stays a string. The implicit resolvers are OmegaConf's own,
taken from its loader when this module is imported (:func:`_omegaconf_resolvers`;
kept between runs under a fingerprint of the files that build them), never a
copy that could drift.

Refused before anything is constructed: every tag the safe loader has no
constructor for (``!!python/object/apply:os.system``...), aliases that contain
themselves or expand past :data:`~zenspec.spec.parse.MAX_YAML_VALUES` values
(the "billion laughs"), nesting deeper than :data:`~zenspec.spec.parse.MAX_DEPTH`.
Every error carries the file, key path, line and column.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Pattern, Tuple, TypedDict

import yaml

from zenspec.errors import Problem, SpecError
from zenspec.spec import facts
from zenspec.spec.parse import (
    MAX_DEPTH,
    MAX_YAML_VALUES,
    KeyPath,
    SourceMap,
    _too_deep,
    format_path,
)

__all__ = ["parse_yaml"]


def _omegaconf_resolvers() -> Dict[Any, List[Tuple[str, Pattern[str]]]]:
    """The implicit resolvers (plain scalar -> tag) of OmegaConf's YAML loader.

    The one place zenspec's spec layer touches a private OmegaConf name:
    ``omegaconf._utils.get_yaml_loader``, which ``OmegaConf.create``/``load``
    (and so Hydra) read YAML with; checked against OmegaConf 2.3 (2.3.1).
    Its loader is PyYAML's SafeLoader with YAML 1.2-like floats added (``1e-4``,
    ``.5``, no dot or exponent sign needed) and dates/times left strings (the
    timestamp resolver removed). Constructors and the duplicate-key check are
    not taken: zenspec refuses Python tags (OmegaConf builds ``pathlib.Path``
    from some) and reports duplicate keys itself, with every position.

    Importing OmegaConf costs ~40 ms, so the table read from it is kept between
    runs (:mod:`zenspec.spec.facts`), under a fingerprint of OmegaConf's and
    PyYAML's files that build it; ``tests/test_layers.py`` holds the kept table
    equal to OmegaConf's.
    """
    print_ = _resolvers_fingerprint()
    kept = facts.read("yaml-resolvers", print_)
    if isinstance(kept, dict):
        try:
            return {
                first: [(tag, re.compile(pattern, flags)) for tag, pattern, flags in entries]
                for first, entries in kept.items()
            }
        except (TypeError, ValueError, re.error):
            pass  # not what was written: read OmegaConf's again
    from zenspec._compatibility import get_yaml_loader  # omegaconf 2.3: _utils; 2.4: _yaml

    table = get_yaml_loader().yaml_implicit_resolvers
    resolvers = {first: list(entries) for first, entries in table.items()}
    if all(isinstance(first, str) for first in resolvers):
        facts.write(
            "yaml-resolvers",
            print_,
            {f: [(t, p.pattern, p.flags) for t, p in e] for f, e in resolvers.items()},
        )
    return resolvers


def _resolvers_fingerprint() -> Optional[str]:
    files = facts.package_files("omegaconf", ["_utils.py", "_yaml.py", "version.py"])
    files += facts.package_files("yaml", ["resolver.py", "__init__.py"])
    return facts.fingerprint(files, __file__) if len(files) >= 3 else None


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


class _SpecYamlLoader(yaml.SafeLoader):
    """The safe loader, resolving plain scalars as OmegaConf does; only ever
    constructs plain YAML types.

    A value the safe constructors choke on (``!!int abc``,
    ``!!timestamp 2001-13-45``) raises a SpecError at that value's position
    instead of a bare ValueError.
    """

    # class attribute PyYAML's Resolver reads (Resolver.resolve); OmegaConf's table
    yaml_implicit_resolvers = _omegaconf_resolvers()

    #: id(node) -> key path, filled by _check_yaml_nodes before construction
    zen_paths: Dict[int, KeyPath] = {}
    zen_file: Optional[str] = None

    #: values composed so far, aliases counted as the values they repeat
    zen_count = 0
    #: id(anchored node) -> the values it expands to (known once it is composed)
    zen_sizes: Dict[int, int] = {}

    def compose_node(self, parent: Optional[yaml.Node], index: Any) -> Any:
        """PyYAML's, counting values *while* composing (as _check_yaml_nodes counts
        them: keys not, aliases as all the values they repeat), so a document past
        MAX_YAML_VALUES is refused before the rest of it is even scanned."""
        event = self.peek_event()
        is_key = isinstance(parent, yaml.MappingNode) and index is None
        if isinstance(event, yaml.AliasEvent):
            if not is_key:
                target = self.anchors.get(event.anchor)
                self.zen_count += self.zen_sizes.get(id(target), 1) if target is not None else 1
                self._zen_limit(event)
            return super().compose_node(parent, index)
        start = self.zen_count
        if not is_key:
            self.zen_count += 1
            self._zen_limit(event)
        node = super().compose_node(parent, index)
        if getattr(event, "anchor", None) is not None:
            self.zen_sizes[id(node)] = self.zen_count - start
        return node

    def _zen_limit(self, event: Any) -> None:
        if self.zen_count > MAX_YAML_VALUES:
            raise SpecError(
                f"the YAML document expands to more than {MAX_YAML_VALUES:,} values "
                "(anchors and aliases repeat what they name).",
                file=self.zen_file,
                line=event.start_mark.line + 1,
                column=event.start_mark.column + 1,
                hint="Fix: use fewer aliases (*name), or write the values out.",
            )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, SpecError, RecursionError):
            raise
        except Exception as e:
            path = self.zen_paths.get(id(node))
            raise SpecError(
                f"YAML cannot read the value {node.value!r} as {_tag_name(node.tag)}: {e}.",
                file=self.zen_file,
                path=format_path(path) if path is not None else None,
                line=node.start_mark.line + 1,
                column=node.start_mark.column + 1,
                hint="Fix: quote the value to keep it a string, or correct it.",
            ) from None


def _tag_name(tag: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag[len("tag:yaml.org,2002:") :]
    return tag


class _Mark(TypedDict):
    """The ``line``/``column`` keywords of :class:`SpecError`, 1-based."""

    line: Optional[int]
    column: Optional[int]


def _mark(e: yaml.MarkedYAMLError) -> _Mark:
    mark = e.problem_mark or e.context_mark
    return {"line": mark.line + 1 if mark else None, "column": mark.column + 1 if mark else None}


def parse_yaml(text: str, file: Optional[str]) -> Tuple[Any, SourceMap]:
    try:
        loader = _SpecYamlLoader(text)
        loader.zen_file = file
        loader.zen_sizes = {}
    except yaml.reader.ReaderError as e:  # a control character, checked up front
        raise _reader_error(e, text, file) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap()
        loader.zen_paths = _check_yaml_nodes(node, file)  # before anything is constructed
        loader.zen_file = file
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as e:
        problem = e.problem or ""
        if "could not determine a constructor for the tag" in problem:
            tag = problem.partition("tag ")[2].strip("'") or "?"
            if "python/" in tag:
                tag = "!!" + tag.rsplit(":", 2)[-2] if tag.count(":") >= 3 else tag
            raise SpecError(
                f"the YAML tag {tag!r} is refused: zenspec reads YAML with a safe loader and "
                "never builds Python objects from tags.",
                file=file,
                **_mark(e),
                hint="Fix: name a callable with `_target_: pkg.mod.attr` (called) or "
                "`_ref_: pkg.mod:attr` (the object itself).",
            ) from None
        what = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise SpecError(
            f"YAML error: {what}.",
            file=file,
            **_mark(e),
            hint="Fix: quote the value to keep it a string, or correct it.",
        ) from None
    except yaml.MarkedYAMLError as e:
        what = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise SpecError(
            f"YAML syntax error: {what}.",
            file=file,
            **_mark(e),
            hint="Fix: check the indentation and that strings containing ': ' or '#' are quoted.",
        ) from None
    except yaml.reader.ReaderError as e:
        raise _reader_error(e, text, file) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {' '.join(str(e).split())}", file=file) from None
    finally:
        loader.dispose()
    positions: Dict[KeyPath, Tuple[int, int]] = {}
    _positions(node, positions)
    return data, SourceMap(positions)


def _reader_error(e: Any, text: str, file: Optional[str]) -> SpecError:
    line = text[: max(e.position, 0)].count("\n") + 1
    column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
    char = e.character if isinstance(e.character, str) else chr(e.character)
    return SpecError(
        f"YAML does not allow the character U+{ord(char):04X} in a file.",
        file=file,
        line=line,
        column=column,
        hint="Fix: remove it, or write it as an escape (\\uXXXX) in a double-quoted string.",
    )


def _refused_tag(
    tag: str, file: Optional[str], path: KeyPath, line: Optional[int], column: Optional[int]
) -> Problem:
    return Problem(
        f"the YAML tag '{_tag_name(tag)}' is refused: zenspec reads YAML with a safe loader "
        "and never builds Python objects from tags.",
        file=file,
        path=format_path(path),
        line=line,
        column=column,
        hint="Fix: name a callable with `_target_: pkg.mod.attr` (called) or "
        "`_ref_: pkg.mod:attr` (the object itself).",
    )


def _key_name(key_node: yaml.Node) -> str:
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"


def _check_yaml_nodes(root: yaml.Node, file: Optional[str]) -> Dict[int, KeyPath]:
    """Refuse what the constructor would choke or hang on, before it runs.

    Iterative, so no input can overflow the stack here: nesting deeper than
    MAX_DEPTH, an alias inside itself, aliases that expand to more than
    MAX_YAML_VALUES values, tags the safe loader has no constructor for,
    non-string and duplicate keys. Returns where each node is (its first path).
    """
    problems: List[Problem] = []
    paths: Dict[int, KeyPath] = {}
    count = 0
    on_path: set = set()
    stack: List[Tuple[bool, yaml.Node, KeyPath]] = [(True, root, ())]
    while stack:
        enter, node, path = stack.pop()
        if not enter:
            on_path.discard(id(node))
            continue
        count += 1
        paths.setdefault(id(node), path)
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if count > MAX_YAML_VALUES:
            raise SpecError(
                f"the YAML document expands to more than {MAX_YAML_VALUES:,} values "
                "(anchors and aliases repeat what they name).",
                file=file,
                path=format_path(path),
                line=line,
                column=column,
                hint="Fix: use fewer aliases (*name), or write the values out.",
            )
        if len(path) > MAX_DEPTH:
            raise _too_deep(file, path, line, column)
        if node.tag not in _SpecYamlLoader.yaml_constructors:
            problems.append(_refused_tag(node.tag, file, path, line, column))
            continue
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            continue
        if id(node) in on_path:
            raise SpecError(
                "a YAML alias refers to a node that contains it, which would be infinitely deep.",
                file=file,
                path=format_path(path),
                line=line,
                column=column,
                hint="Fix: an alias (*name) may only repeat a node defined outside it.",
            )
        on_path.add(id(node))
        stack.append((False, node, path))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((True, item, (*path, i)) for i, item in reversed(list(enumerate(node.value))))  # fmt: skip
            continue
        seen: Dict[str, int] = {}
        children = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *base` merges base's keys into this one
                children.append((True, value_node, path))
                continue
            key = _key_name(key_node)
            child = (*path, key)
            kline, kcolumn = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key_node.tag not in _SpecYamlLoader.yaml_constructors:
                problems.append(_refused_tag(key_node.tag, file, path, kline, kcolumn))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "mapping" if isinstance(key_node, yaml.MappingNode) else "list"
                problems.append(
                    Problem(
                        f"a key is a YAML {kind}, but spec keys must be strings.",
                        file=file,
                        path=format_path(path),
                        line=kline,
                        column=kcolumn,
                        hint="Fix: write a plain key (`name:`), or quote the text.",
                    )
                )
                continue
            if key_node.tag != _STR_TAG:
                # `1: x` or `true: x` make int/bool keys that no override can name
                kind = _tag_name(key_node.tag).lstrip("!")
                problems.append(
                    Problem(
                        f"key {key!r} is read as a YAML {kind}, but spec keys must be strings.",
                        file=file,
                        path=format_path(child),
                        line=kline,
                        column=kcolumn,
                        hint=f'Fix: quote it: "{key}":',
                    )
                )
            if key in seen:
                # PyYAML keeps the last value silently; a spec with the same key
                # twice almost always lost an edit, so say so.
                problems.append(
                    Problem(
                        f"duplicate key '{key}' (first written on line {seen[key]}); the "
                        "earlier value would be silently replaced.",
                        file=file,
                        path=format_path(child),
                        line=kline,
                        column=kcolumn,
                        hint="Fix: keep one of them.",
                    )
                )
            seen.setdefault(key, kline)
            children.append((True, value_node, child))
        stack.extend(reversed(children))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise SpecError(problems[0].message, problems=problems)
    return paths


def _positions(root: yaml.Node, out: Dict[KeyPath, Tuple[int, int]]) -> None:
    """Record where each key path of the (checked) node tree was written."""
    stack: List[Tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            # after construction, merged (`<<`) keys come first, then the node's own:
            # the last one of a key wins, as its value does in the data
            last = {_key_name(k): (k, v) for k, v in node.value}
            for key, (key_node, value_node) in reversed(list(last.items())):
                child = (*path, key)
                out[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in reversed(list(enumerate(node.value))):
                child = (*path, i)
                out[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((item, child))
