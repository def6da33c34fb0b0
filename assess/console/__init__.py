"""The services behind the bureau, school and admin consoles, each filtered by the acting user's scope.

Every function takes the acting :class:`~assess.accounts.scope.Actor` (or its scope) and answers
only about the part of the people tree the actor may see: a list is filtered in its query, and a
single thing outside the scope raises :class:`~assess.accounts.exceptions.OutOfScope`, exactly as
if it did not exist. Modules: :mod:`~assess.console.tree` (areas, schools, participation),
:mod:`~assess.console.monitor` (the live test window), :mod:`~assess.console.roster`
(registration, tickets, PINs, unlocking), :mod:`~assess.console.results` (result rows for
exports, pseudonymous outside a school) and :mod:`~assess.console.jobs` (background work).
"""
