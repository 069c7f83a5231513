"""The rule language: YAML rule text -> a validated, immutable `spec.RuleBook`. Pure: no I/O.

    load_text(text, filename) -> RuleBook; raises RuleErrors
    check_sources([(filename, text or bytes), ...]) -> LoadResult   never raises (for `validate`)

Files and directories on disk are read by the shell: `daemon.rulefiles.load_rulebook` and
`check_paths`.
"""

from daemon.rules.errors import Problem, RuleErrors, Severity
from daemon.rules.loader import LoadResult, check_sources, load_text

__all__ = ["LoadResult", "Problem", "RuleErrors", "Severity", "check_sources", "load_text"]
