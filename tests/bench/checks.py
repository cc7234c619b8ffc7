"""The bench scripts' tests: named checks that print ok/FAIL and, at the end, fail the test
with every failed check's detail."""
import sys

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name)
    if not condition:
        failures.append(f"{name}: {detail}")


def finish():
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
