"""Input errors that the command line reports in one line, naming the file and the field."""


class InputError(Exception):
    """Bad input: a malformed scenario or pack, an unknown name, a date out of range, an impossible value."""

    def __init__(self, file, field: str, message: str):
        self.file = str(file)
        self.field = field
        self.message = message
        super().__init__(f"{self.file}: {field}: {message}")
