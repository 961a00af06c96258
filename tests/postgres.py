"""A throwaway PostgreSQL cluster from Debian's packages, for the tests (no Docker).

scripts/test starts one (`python -m tests.postgres start DIR`), runs the database-touching test
directories a second time with EBOK_TEST_DATABASE_URL pointing at it, and stops it on exit
(`python -m tests.postgres stop DIR`); conftest gives each test a fresh schema in it. The
outage tests start a private one of their own and stop and restart it.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
the Debian package). It listens on a unix socket only, in DIR/socket: no port to collide with.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


class Cluster:
    """A cluster in `directory` (data in DIR/data, socket in DIR/socket, log in DIR/log); by
    default a new directory in /tmp (as root, the `postgres` user must reach it: pytest's own
    temporary directories are root's only)."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="ebok-pg-"))
        self.directory = Path(directory).resolve()
        self.data = self.directory / "data"
        self.socket = self.directory / "socket"
        self.log = self.directory / "log"
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = binaries

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    @property
    def url(self) -> str:
        """A libpq URL to the `postgres` database over the socket (as user postgres)."""
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket), safe='')}"

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            shutil.chown(self.socket, "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
            )

    def start(self) -> None:
        options = (
            f"-k {self.socket} -c listen_addresses='' -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgres start|stop DIR", file=sys.stderr)
        return 2
    cluster = Cluster(Path(argv[1]))
    if argv[0] == "start":
        cluster.init()
        cluster.start()
        print(cluster.url)
    else:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
