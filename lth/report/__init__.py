"""The reporting: from a preset's completed runs to the paper's tables, figures and claims.

It reads what the method (lth/) wrote and never the other way: nothing in lth/ outside this package imports it.
"""
