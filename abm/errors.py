"""Input errors that the command line reports in one line, naming the file and the field."""


class InputError(Exception):
    """Bad input: a malformed scenario or pack, an unknown name, a date out of range, an impossible value."""

    def __init__(self, file, field: str, message: str):
        self.file = str(file)
        self.field = field
        self.message = message
        super().__init__(f"{self.file}: {field}: {message}")


def reject_unknown(file, prefix: str, table: dict, known, what: str = "field"):
    """An InputError naming the first key of `table` that is not in `known` (`prefix` + key is the field)."""
    for k in table:
        if k not in known:
            raise InputError(file, f"{prefix}{k}", f"unknown {what} (known: {', '.join(known)})")
