"""The engine's core: the incident (Run), its environment file (config), the executor and the Host
handle through which every command runs, the journal, redaction, the inventory of hosts. Knows
nothing of the procedure's Pasos."""
