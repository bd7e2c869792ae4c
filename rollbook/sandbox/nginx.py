"""The sandbox's nginx: its own config, the proxy to gunicorn, static files, maintenance page.

Paso 2.3 / 5.3 of the procedure: while the maintenance page exists, every request is answered
503 with that page; once it is removed, traffic flows again (a reload is harmless, not needed).
"""

from __future__ import annotations

from pathlib import Path

from rollbook.sandbox.layout import Layout
from rollbook.sandbox.shell import IS_ROOT

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

MAINTENANCE_PAGE = """<!DOCTYPE html>
<html lang="es">
<head>
  <meta charset="utf-8">
  <title>Mantenimiento en curso</title>
</head>
<body>
  <h1>Mantenimiento en curso</h1>
  <p>Estamos trabajando en el servicio. Vuelva a intentarlo en unos minutos.</p>
</body>
</html>
"""


def write_maintenance_template(layout: Layout) -> None:
    layout.maintenance_template.parent.mkdir(parents=True, exist_ok=True)
    layout.maintenance_template.write_text(MAINTENANCE_PAGE, encoding="utf-8")
    layout.maintenance_page.parent.mkdir(parents=True, exist_ok=True)


def _quoted(path: str | Path) -> str:
    """A path as an nginx string, whatever characters it holds."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_d(layout: Layout) -> Path:
    return layout.nginx_conf.parent / "conf.d"


def write_config(
    layout: Layout, upstream: list[Path] | None = None, static: Path | None = None
) -> None:
    """The sandbox's nginx in front of its gunicorn, or (`upstream`: the fleet's gunicorn
    sockets) the balancer of the app hosts, serving `static` (the first host's static root)."""
    run, log = layout.run / "nginx", layout.log / "nginx"
    servers = "".join(f"        server {_quoted(f'unix:{socket}')};\n" for socket in upstream or [])
    balancer = f"    upstream rollbook_app {{\n{servers}    }}\n" if upstream else ""
    backend = "rollbook_app" if upstream else f"127.0.0.1:{layout.ports.gunicorn}"
    page = layout.maintenance_page
    temp_paths = "".join(f"    {name}_temp_path {_quoted(run / name)};\n" for name in TEMP_PATHS)
    # Started as root, nginx drops its workers to `user`: root keeps every file readable.
    user = "user root;\n" if IS_ROOT else ""
    config = f"""# Written by `rollbook sandbox`.
{user}worker_processes 1;
pid {_quoted(run / "nginx.pid")};
error_log {_quoted(log / "error.log")};

events {{
    worker_connections 256;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    access_log {_quoted(log / "access.log")};
{temp_paths}
    # site-wide snippets, as in /etc/nginx/conf.d/
    include {_quoted(f"{conf_d(layout)}/*.conf")};
{balancer}
    server {{
        listen 127.0.0.1:{layout.ports.nginx};
        server_name _;

        if (-f {_quoted(page)}) {{
            return 503;
        }}
        error_page 503 @maintenance;
        location @maintenance {{
            root {_quoted(page.parent)};
            rewrite ^ /{page.name} break;
        }}

        # locations the release ships with its code (none in the demo app's releases)
        include {_quoted(f"{layout.app}/deploy/nginx/*.conf")};

        location /static/ {{
            alias {_quoted(f"{static or layout.static_root}/")};
        }}

        location / {{
            proxy_pass http://{backend};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""
    for folder in (run, log, conf_d(layout)):
        folder.mkdir(parents=True, exist_ok=True)
    layout.nginx_conf.write_text(config, encoding="utf-8")
