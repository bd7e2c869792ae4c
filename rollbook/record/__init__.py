"""The record people and auditors read, rendered from the journal: report.html's views, the
incident markdown, the dry-run plan, the timeline's picture, the outage the probe saw, the
rendered procedure. It acts on no system: governance/ signs, approves and notifies, lifecycle/
runs the closing actions."""
