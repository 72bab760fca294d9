"""Ctrl-C at a safe point.

Python raises KeyboardInterrupt at whatever bytecode runs when SIGINT arrives, and some of that code is
called from C that does not pass it on: numpy, probing a Python object for array attributes, clears any
exception raised inside the probe (so the interrupt is lost and the run goes on to its end), and numba
turns one raised in its callbacks into a SystemError (a traceback). Measured on a single-process experiment
sent SIGINT after its first run file, 16 times: 3 ran to the end with exit status 0, 1 traced back; with
the deferral below, 10 of 10 stopped with status 130 and the "runs are kept" line.

So, while a command simulates, SIGINT only sets a flag (`deferred`), and the model raises KeyboardInterrupt
between weeks (`checkpoint`, called by SafeMobilityModel.run): within a week of the key press, in our own
code. A second Ctrl-C raises at once. Without `deferred` (the dashboard's threads, a library user)
`checkpoint` does nothing and SIGINT behaves as usual.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

_pending = False


def checkpoint():
    """Raise the KeyboardInterrupt a deferred SIGINT asked for, here and now."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


def _on_sigint(signum, frame):
    global _pending
    if _pending:  # a second Ctrl-C: the user will not wait for the end of the week
        _pending = False
        raise KeyboardInterrupt
    _pending = True


@contextmanager
def deferred():
    """SIGINT sets a flag that `checkpoint` turns into KeyboardInterrupt (see the module docstring). Only in
    the main thread (the only one Python lets set a signal handler); elsewhere nothing changes."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _pending = False
