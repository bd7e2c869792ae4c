"""`manage.py build_bundle`: the offline CSS bundle, built into STATIC_ROOT after collectstatic
(as django-compressor's `compress` does). collectstatic does not make it; pages load it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

BUNDLE = Path("core") / "bundle.css"


class Command(BaseCommand):
    help = "Concatenate the collected stylesheets of core into STATIC_ROOT/core/bundle.css."

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(settings.STATIC_ROOT)
        bundle = root / BUNDLE
        sources = sorted(p for p in (root / "core").glob("*.css") if p != bundle)
        if not sources:
            raise CommandError(f"no stylesheets under {root / 'core'}: run collectstatic first")
        bundle.write_text("".join(p.read_text(encoding="utf-8") for p in sources), "utf-8")
        self.stdout.write(f"bundle: {bundle} from {len(sources)} stylesheets")
