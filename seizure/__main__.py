"""``python -m seizure``: the ``seizure`` command."""

from seizure.cli import main

main()
