"""`python -m vidgate ...` is the `vidgate` command."""

from vidgate.cli import main

if __name__ == "__main__":
    main()
