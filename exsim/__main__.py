"""``python -m exsim`` runs the command line."""

from exsim.cli import main

main()
