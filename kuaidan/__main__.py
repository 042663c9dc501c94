"""`python -m kuaidan` runs the command-line interface."""

from kuaidan.cli import main

main()
