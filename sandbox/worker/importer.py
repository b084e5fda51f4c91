"""The import hook of strategy code: the team's own modules, and allowed modules preloaded.

`import m` and `from m import x` in strategy code come here with exact strings (compiled
constants); anything else is refused before a decision is made. A library module given to
`from m import x` is a fresh stand-in holding only `x`, read through the guards: Python
then reads `x` from the stand-in, so the strategy gets exactly the checked value (a copy
of a library's registry, never the registry itself).
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Mapping
from typing import Any

from sandbox.worker.guards import Guards
from sandbox.worker.values import SandboxViolation

TEAM_PACKAGE = "<team>."  # prefix of the team's module names (`<team>.helpers`)


class TeamImporter:
    """The import hook: the team's modules (run on first import, once) and allowed modules."""

    def __init__(self, codes: Mapping[str, types.CodeType], guards: Guards) -> None:
        self.codes = codes
        self.guards = guards
        self.modules: dict[str, types.ModuleType] = {}
        # What `from . import helpers` imports from: holds the team's modules only.
        self.package = types.ModuleType(TEAM_PACKAGE[:-1])
        guards.team_modules.add(self.package)
        self.builtins = guards.builtins(self.import_module)

    def import_module(
        self,
        name: str,
        globals: Any = None,  # the signature of __import__
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> types.ModuleType:
        """`__import__` for strategy code."""
        if type(fromlist) is list:
            # C code (numpy's ndarray.mean...) imports through PyImport_Import, which uses
            # the *calling frame's* builtins and passes a list; the strategy's own import
            # statements always pass a tuple or None. Those imports are the library's and
            # their result goes back to C, never to the strategy: use the real machinery.
            return builtins.__import__(name, None, None, fromlist, level)
        items = tuple(fromlist or ())
        if type(name) is not str or not all(type(item) is str for item in items):
            raise ImportError("module and attribute names must be plain strings")
        if type(level) is not int or level > 1:
            raise ImportError("relative imports reach only the strategy's own modules (one dot)")
        if level == 1 and not name:  # exact: checked above
            for item in items:
                self.team_module(item)
            return self.package
        if level == 1 or name.partition(".")[0] in self.codes:  # exact: checked above
            if "." in name:
                raise ImportError(f"{name}: the strategy's own modules have no submodules")
            return self._take(self.team_module(name), name, items)
        return self._take(self._library_module(name, bool(items)), name, items)

    def _take(self, module: types.ModuleType, name: str, items: tuple[str, ...]) -> Any:
        """`from m import x` reads m.x without _getattr_: read it here, through the guards."""
        if not items:
            return module
        taken = types.ModuleType(module.__name__)
        for item in items:
            try:
                setattr(taken, item, self.guards.getattr(module, item))
            except AttributeError:
                raise ImportError(f"cannot import name {item!r} from {name!r}") from None
            except SandboxViolation as violation:
                raise ImportError(f"from {name} import {item} refused: {violation}") from None
        return module if module in self.guards.team_modules else taken

    def _library_module(self, name: str, has_fromlist: bool) -> types.ModuleType:
        reason = self.guards.policy.refusal(name)
        if reason is not None:
            raise ImportError(f"import of {name} refused: {reason}", name=name)
        module = sys.modules.get(name)
        if module is None:  # never import from disk: the worker's parent preloads modules
            raise ImportError(f"{name} is allowed but not preloaded in the sandbox", name=name)
        if has_fromlist or "." not in name:
            return module
        top = name.partition(".")[0]  # `import a.b` binds `a`
        if (reason := self.guards.policy.refusal(top)) is not None:
            raise ImportError(f"import {name} binds {top}, which is refused: {reason}")
        return sys.modules[top]

    def team_module(self, name: str) -> types.ModuleType:
        """Run a module of the strategy on its first import; cycles see it half-initialised."""
        module = self.modules.get(name)
        if module is not None:
            return module
        code = self.codes.get(name)
        if code is None:
            raise ImportError(f"there is no {name}.py in the strategy", name=name)
        # Registered in sys.modules under a name no real module has, because dataclasses
        # (string annotations) and enum look a class's module up there; the strategy
        # itself never sees sys.modules, and libraries never import these names.
        module = types.ModuleType(TEAM_PACKAGE + name)
        module.__dict__["__builtins__"] = self.builtins
        self.modules[name] = sys.modules[module.__name__] = module
        self.guards.team_modules.add(module)
        setattr(self.package, name, module)
        try:
            exec(code, module.__dict__)  # restricted code object compiled by RestrictedPython
        except BaseException:
            del self.modules[name]  # as Python does: a failed import leaves nothing behind
            sys.modules.pop(module.__name__, None)
            self.guards.team_modules.discard(module)
            delattr(self.package, name)
            raise
        return module
