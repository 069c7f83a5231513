"""The rule language: YAML rule files -> a validated, immutable `spec.RuleBook`.

    load_rulebook(paths) -> RuleBook   files and directories; raises RuleErrors
    load_text(text, filename) -> RuleBook
    check_paths(paths) -> LoadResult   every problem and warning, never raises (for `validate`)
"""

from daemon.rules.errors import Problem, RuleErrors, Severity
from daemon.rules.loader import LoadResult, check_paths, check_sources, load_rulebook, load_text

__all__ = ["LoadResult", "Problem", "RuleErrors", "Severity", "check_paths", "check_sources",
           "load_rulebook", "load_text"]
