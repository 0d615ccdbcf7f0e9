"""``python -m skindose``: the ``skindose`` command.

The ``skindose`` package itself is imported before this module runs, so a Ctrl-C in that first
half second is Python's (a ``KeyboardInterrupt`` traceback); the ``skindose`` console script
(:mod:`_skindose_launch`) covers it too. See ``docs/trust.md``, "Interrupts".
"""

from _skindose_launch import main

main()
