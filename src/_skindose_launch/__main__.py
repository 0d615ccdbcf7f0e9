"""``python -m _skindose_launch``: the ``skindose`` command."""

from _skindose_launch import main

main()
