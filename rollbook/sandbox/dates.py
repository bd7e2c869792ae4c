"""The sandbox's story in time, relative to now: three deploys and two nightly backups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OLD_RELEASE_VERSION = "1.3.0"


@dataclass(frozen=True)
class Timeline:
    now: datetime

    @classmethod
    def starting_now(cls) -> Timeline:
        return cls(datetime.now(UTC).replace(microsecond=0))

    def ago(self, hours: float) -> datetime:
        return self.now - timedelta(hours=hours)

    @property
    def old_deploy(self) -> datetime:
        """The release before the stable one (VERSION 1.3.0)."""
        return self.ago(50)

    @property
    def stable_deploy(self) -> datetime:
        return self.ago(3)

    @property
    def defective_deploy(self) -> datetime:
        return self.ago(1)

    @property
    def nightly_backup(self) -> datetime:
        """Taken between the stable and the defective deploy: it holds the stable state."""
        return self.ago(2)

    @property
    def old_backup(self) -> datetime:
        """Too old for the procedure's 24 h limit."""
        return self.ago(30)

    @property
    def deploys(self) -> tuple[datetime, datetime, datetime]:
        return self.old_deploy, self.stable_deploy, self.defective_deploy


def tag_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("staging-deploy-%Y%m%d-%H%M")


def backup_name(database: str, moment: datetime) -> str:
    """`<database>_YYYYMMDD_HHMM.sql`, the nightly backups' naming."""
    return f"{database}_{moment.astimezone(UTC):%Y%m%d_%H%M}.sql"
