"""The procedure's actions, by what they act on: evaluation (Etapa 1), services (2, 5), code and
packages (3), the database (4: recreate, swap, trial restore), the web (maintenance page, health),
backups, releases and the ledger. Each Paso acts on every host of its role (fleet.each_host)."""
