"""The record people and auditors read: report.html's views, the incident markdown and the
closing actions, the dry-run plan, notifications, signing, the rendered procedure."""
