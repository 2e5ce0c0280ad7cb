"""What the platform writes to disk is private to its user: data dir 0700, database 0600.

Before, ``civic.db`` was created 0644 in a 0755 data directory, readable by every local user
(issue 9, item 4).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from civicstack.platform import Platform
from civicstack.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_platform_keeps_its_files_private(tmp_path: Path) -> None:
    """Under a permissive umask, the data dir is 0700 and the database and secrets 0600."""
    data_dir = tmp_path / "data"
    old = os.umask(0o022)
    try:
        platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data_dir)}))
        platform.migrate()
        assert platform.admin_token
        assert platform.master_key
        platform.close()
    finally:
        os.umask(old)
    assert _mode(data_dir) == 0o700
    database = data_dir / "civic.db"
    assert database.exists()
    for path in [database, data_dir / "admin-token", data_dir / "master-key"]:
        assert _mode(path) == 0o600, path
    for extra in data_dir.glob("civic.db-*"):  # SQLite's -wal and -shm follow the database
        assert _mode(extra) & 0o077 == 0, extra


def test_an_existing_data_dir_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    """An operator's own directory (say, group-readable for a backup user) is not changed."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o750)
    data_dir.chmod(0o750)
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data_dir)}))
    platform.migrate()
    platform.close()
    assert _mode(data_dir) == 0o750
    assert _mode(data_dir / "civic.db") == 0o600
