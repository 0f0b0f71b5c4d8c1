"""The Sacred experiments: imp.py (LTR with an importance metric), reinit.py (Section 5.1), sweep.py (a preset's runs)."""
