"""The engine's core: the incident (Run), its environment file (config), the executor and the Host
handle through which every command runs, the journal, redaction, the inventory of hosts, and the
typed records a run keeps (state, operations). It does none of the procedure's work: it names the
Pasos only where its records say which Paso writes them and where the timeline reads the journal
(the services' stop is Paso 2.2's first change, §9's Paso 9.1)."""
