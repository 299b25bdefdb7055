"""An EL0 step that never returns is caught like any other hang: the case's
timeout stops its QEMU, the PC is reported, and the run goes on."""
from suite_run import nodes, suite, suite_options  # noqa: F401  (fixtures)


def test_an_el0_hang_is_stopped_at_the_case_timeout(suite):
    run = suite("--case-timeout=5", "--hang-check=0", "--isolated", select=nodes("hang_el0", "plain"))
    assert run.outcomes() == {"selftest.hang_el0": "passed", "selftest.plain": "passed"}, run.output
    # Stopped by its own 1 s timeout, not the 5 s one.
    assert 1 <= run.case("selftest.hang_el0")["wall"] < 2.5
