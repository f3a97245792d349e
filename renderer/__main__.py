"""`python -m renderer`."""

from renderer.cli import main

main()
