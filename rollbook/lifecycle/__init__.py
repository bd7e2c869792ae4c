"""A run's lifecycle around the Pasos: the lock, the selection of scenarios, --resume, the
outcome, and §9's recovery of the pre-rollback state."""
