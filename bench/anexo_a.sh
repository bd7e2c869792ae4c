#!/usr/bin/env bash
# PROCED-BACK-003 Anexo A ("ROLLBACK RAPIDO") as a bare script, for bench/rollback_vs_script.py:
# the same commands rollbook runs in its Etapas 2-5, without the framework, journal or checks.
# Anexo A's six lines, plus what the procedure's Pasos add to them: the maintenance page (2.3 /
# 5.3), collectstatic (3.3), the safety dump (4.1) and closing connections (4.2).
# Every setting comes from the environment (the benchmark sets them from the site's environment
# file: environments/sandbox.yaml, or a profile's; no maintenance page when MAINTENANCE_PAGE is empty).
# Prints "<event> <unix time>" lines: start, stopped, restore_start, restore_end, healthy, end.
set -euo pipefail
stamp() { printf '%s %s\n' "$1" "$(date +%s.%N)"; }
ctl() { "$SUPERVISORCTL" -c "$SUPERVISOR_CONF" "$@" >/dev/null; }
db() { "$@" -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER"; }
export PGPASSWORD="$DB_PASSWORD"

stamp start
ctl stop $SERVICES                                                # 1. detener servicios
stamp stopped
[ -z "$MAINTENANCE_PAGE" ] || cp "$MAINTENANCE_TEMPLATE" "$MAINTENANCE_PAGE"
git -C "$APP" fetch -q --tags
git -C "$APP" checkout -q "$TAG"                                  # 2. revertir codigo
(cd "$APP" && "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall \
    $PIP_OPTIONS -r "$REQUIREMENTS")                              # 4. reinstalar deps
(cd "$APP" && find "$STATIC_ROOT" -mindepth 1 -delete && \
    "$VENV/bin/python" manage.py collectstatic --noinput >/dev/null)
db pg_dump -d "$DB_NAME" -f "$SAFETY_DUMP"
db psql -X -q -d postgres -c "ALTER DATABASE \"$DB_NAME\" WITH ALLOW_CONNECTIONS false" >/dev/null
stamp restore_start
db dropdb --force "$DB_NAME"                                      # 3. restaurar DB
db createdb "$DB_NAME"
db psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$BACKUP" >/dev/null
stamp restore_end
ctl start $SERVICES                                               # 5. iniciar servicios
[ -z "$MAINTENANCE_PAGE" ] || rm -f "$MAINTENANCE_PAGE"
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$HEALTH_URL")" = 200 ]; do sleep 0.2; done
stamp healthy                                                     # 6. validar
stamp end
