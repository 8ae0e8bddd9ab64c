"""lrpref: reference implementation of Layer-wise Relevance Propagation in NumPy."""

from .ledger import Ledger, LedgerRow

__version__ = "0.1.0"
