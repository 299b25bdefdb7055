"""Types of command-line values shared by the suite's tools (argparse `type=` functions): a bad
value is a usage error that names the option and says what it takes, exit status 2."""
import argparse
import math


def seconds(text, least=0.0, above=False):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < least or above and value == least:
        raise argparse.ArgumentTypeError(f"{text!r}: a finite number of seconds {'above' if above else 'from'} {least:g}")
    return value


def positive_seconds(text):
    """Seconds above 0 (a timeout)."""
    return seconds(text, above=True)


def count(text, least=0):
    """A whole number from `least` on (decimal, or 0x hexadecimal)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number from {least}")
    return value


def positive_count(text):
    return count(text, least=1)
