"""Staff accounts: users with a role and a scope in the people tree, sessions, TOTP, throttling, audit.

Modules: :mod:`~assess.accounts.roles` (what each role may do), :mod:`~assess.accounts.scope`
(which part of the people tree, as SQL filters), :mod:`~assess.accounts.users` (managing accounts),
:mod:`~assess.accounts.login` (password, second factor, session), :mod:`~assess.accounts.sessions`,
:mod:`~assess.accounts.passwords`, :mod:`~assess.accounts.totp`, :mod:`~assess.accounts.throttle`,
:mod:`~assess.accounts.audit`, :mod:`~assess.accounts.models` (the tables) and
:mod:`~assess.accounts.exceptions`.
"""
