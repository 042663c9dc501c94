"""An import-linter contract that the built-in ones cannot express: modules that may import
only from an allow-list (and the standard library), whatever else is installed.

DESIGN.md says domain and events modules are pure: the standard library, ``core``'s value
types and other areas' ``domain``, nothing else. A ``forbidden`` contract can only name what
is banned, so a new dependency (``redis``, say) would pass it unnoticed; this contract names
what is allowed instead. Registered in ``pyproject.toml`` under ``contract_types``.
"""

from __future__ import annotations

import sys
from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.helpers import module_expressions_to_modules


class AllowListContract(Contract):
    """``source_modules`` (and their sub-modules) import only ``allowed_modules`` (and theirs),
    the standard library, and one another.

    Options: ``source_modules`` and ``allowed_modules``, lists of module expressions
    (wildcards allowed).
    """

    type_name = "allow_list"

    source_modules = fields.ListField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.ListField(subfield=fields.ModuleExpressionField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        sources = self._with_descendants(graph, self.source_modules)
        allowed = self._with_descendants(graph, self.allowed_modules) | sources
        illegal: list[dict[str, Any]] = []
        for source in sorted(sources):
            for imported in sorted(graph.find_modules_directly_imported_by(source)):
                if imported in allowed or imported.split(".")[0] in sys.stdlib_module_names:
                    continue
                details = graph.get_import_details(importer=source, imported=imported)
                lines = tuple(detail["line_number"] for detail in details)
                illegal.append({"importer": source, "imported": imported, "lines": lines})
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for link in check.metadata["illegal"]:
            lines = ", ".join(map(str, link["lines"]))
            output.print_error(
                f"{link['importer']} may not import {link['imported']} (l.{lines})", bold=False
            )
            output.new_line()

    @staticmethod
    def _with_descendants(graph: ImportGraph, expressions: Any) -> set[str]:
        found = {m.name for m in module_expressions_to_modules(graph, expressions)}
        for name in list(found):
            if not graph.is_module_squashed(name):
                found |= graph.find_descendants(name)
        return found
