"""Generated cases: random regimes, table trees and steps within the reference
model's domain, expectations from the model, batch runs on QEMU, and every
mismatch shrunk to a minimal case file under results/fuzz/.

    generate.py   random Case objects from (seed, index), deterministic anywhere
    toml_writer.py  a Case as a case file (loads with harness.cases.load_file)
    shrink.py     the smallest case a "still fails" predicate keeps failing
    known.py      known QEMU bugs as the model changed to do what that QEMU does
    campaign.py   generate, predict, run on parallel QEMUs, judge, shrink, report
    __main__.py   the command line (make fuzz)
"""
