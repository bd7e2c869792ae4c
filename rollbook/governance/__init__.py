"""Governance: who may act and who answers for it — people, keys and signatures, approvals and
sign-offs, addenda, the provenance of what ran, and the notices sent to the environment's
channels. It acts (signs, sends, plans again); record/ only renders what it journaled."""
