"""PostgreSQL's own tools for `ebok backup` and `ebok restore` (ebok.backup): pg_dump of the
schema EBOK uses into one file, pg_restore of it into an empty database.

The URL's password goes to the tools in PGPASSWORD, never on their command line (where `ps`
shows it). The dump holds one schema, the one EBOK's connections use (`current_schema()`:
`public`, or the URL's `options=-csearch_path=…`), in pg_dump's custom format, without owners
or privileges, so it restores under whichever user the new server gives EBOK. The tools come
with Debian's `postgresql-client`; it must be the server's major version or newer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ebok.database.errors import describe


class DumpError(Exception):
    """Why a dump or a restore could not be made (the message is for the operator)."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DumpError(f"{name} not found: install PostgreSQL's client tools (postgresql-client)")
    return found


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and the environment that carries it."""
    # psycopg imported here and in _schema: `ebok backup` of an SQLite install, `ebok settings`
    # and `ebok --help` (which import this module) need none of it.
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _schema(url: str) -> tuple[str | None, int]:
    """The schema EBOK's connections use (None when it does not exist yet) and its tables."""
    import psycopg  # here: see _connection

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            if schema is None:
                return None, 0
            (tables,) = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchone()
            return schema, tables
    except psycopg.OperationalError as exc:
        raise DumpError(f"cannot connect to {describe(url)}: {exc}") from exc


def dump(url: str, target: Path) -> None:
    """pg_dump the schema of `url` into `target` (a consistent snapshot while EBOK serves)."""
    schema, _ = _schema(url)
    if schema is None:
        raise DumpError(f"{describe(url)}: the schema in the URL's search_path does not exist")
    conninfo, env = _connection(url)
    command = [
        _tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--no-comments",
        f"--schema={schema}", f"--file={target}", f"--dbname={conninfo}",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise DumpError(f"pg_dump failed: {done.stderr.strip()}")
    os.chmod(target, 0o600)


def restore(url: str, source: Path) -> None:
    """pg_restore `source` into the database of `url`, whose schema must hold no tables; in one
    transaction, so a failure leaves it empty."""
    schema, tables = _schema(url)
    if tables:
        raise DumpError(
            f"{describe(url)}: schema {schema} already holds {tables} tables:"
            " restore only into an empty database"
        )
    conninfo, env = _connection(url)
    restore_tool = _tool("pg_restore")
    options = ["--no-owner", "--no-privileges", "--no-comments"]
    listed = subprocess.run(
        [restore_tool, "--list", str(source)], env=env, capture_output=True, text=True
    )
    if listed.returncode != 0:
        raise DumpError(f"pg_restore cannot read {source.name}: {listed.stderr.strip()}")
    if schema is not None:  # it exists already (`public` always does): not created again
        entries = source.with_name(source.name + ".list")
        entries.write_text(
            "".join(
                line + "\n"
                for line in listed.stdout.splitlines()
                if not (" SCHEMA - " in line and line.split(" SCHEMA - ")[1].split()[0] == schema)
            )
        )
        options.append(f"--use-list={entries}")
    command = [
        restore_tool, *options, "--single-transaction", "--exit-on-error",
        f"--dbname={conninfo}", str(source),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    finally:
        if schema is not None:
            entries.unlink(missing_ok=True)
    if done.returncode != 0:
        raise DumpError(f"pg_restore failed: {done.stderr.strip()}")
