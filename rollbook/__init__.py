"""rollbook: PROCED-BACK-003 (deployment rollback) as an executable, auditable procedure."""

__version__ = "0.1.0"
