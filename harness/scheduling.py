"""Which case instances share boots, and how xdist hands them to its workers.

The case instances (in collection order) are cut into one run of consecutive
instances per worker; each run is a batch group that one worker runs, boot by
boot (harness.runner.Runner.run_shared).  A worker knows its group from the
collection alone (every worker collects the same items), and the scheduler
below sends each group whole to one worker, so every case runs exactly once
whatever -n is.  The project's other tests are scheduled one by one, as
xdist's default `load` does.
"""
try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:         # no xdist: runs are in one process, one group
    LoadScopeScheduling = object


def is_case_nodeid(nodeid):
    """Whether a pytest node ID is a case instance's (cases/<family>.toml::<name>)."""
    return nodeid.split("::", 1)[0].endswith(".toml") and "::" in nodeid


def batch_groups(case_nodeids, workers):
    """{node ID: group number}: the case instances cut into `workers` runs of consecutive
    instances, as even in size as can be."""
    count = len(case_nodeids)
    return {nodeid: i * workers // count for i, nodeid in enumerate(case_nodeids)}


class BatchGroupScheduling(LoadScopeScheduling):
    """xdist's load-by-scope scheduling, with a batch group as the scope of a case instance
    and each other test a scope of its own."""

    _groups = None

    def _split_scope(self, nodeid):
        if self._groups is None:
            # Called first by schedule(), once the collection is known and checked alike on every worker.
            cases = [n for n in self.collection if is_case_nodeid(n)]
            self._groups = {n: f"mmu-batch-{g}" for n, g in batch_groups(cases, self.numnodes).items()}
        return self._groups.get(nodeid, nodeid)
