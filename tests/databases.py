"""The databases the store's tests run on: an SQLite file, and PostgreSQL when
``TEST_DATABASE_URL`` names a server (each test in a schema of its own, dropped after).

Without ``TEST_DATABASE_URL`` the PostgreSQL half is skipped and the run's summary says
so; with it set, a server that does not answer fails the run at its start.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from bot.store.sql import to_pyformat

URL_VARIABLE = "TEST_DATABASE_URL"
SQLITE = "sqlite"
POSTGRES = "postgresql"
DATABASES = (SQLITE, POSTGRES)
NOT_RUN = (
    f"the PostgreSQL half of the store's tests did not run: set {URL_VARIABLE} "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run it"
)


def server_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def check_server() -> None:
    """Fail the run now when ``TEST_DATABASE_URL`` is set but nothing answers there."""
    url = server_url()
    if url is None:
        return
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        pytest.exit(f"{URL_VARIABLE} is set but PostgreSQL there cannot be used: {error}", 3)


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path of every connection it makes."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of an empty schema of the test server, dropped afterwards."""
    url = server_url()
    if url is None:
        pytest.skip(NOT_RUN)
    with schema_on(url) as fresh:
        yield fresh


@contextlib.contextmanager
def schema_on(server: str, prefix: str = "test") -> Iterator[str]:
    """The URL of a new empty schema on ``server``, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def database_target(kind: str, tmp_path: Path) -> Iterator[str | Path]:
    """Where a store of ``kind`` lives: a file under ``tmp_path``, or a fresh schema."""
    if kind == SQLITE:
        yield tmp_path / "bot.db"
    else:
        with fresh_schema() as url:
            yield url


def rows(target: str | Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """``sql`` (with SQLite's ``?`` marks) read straight from the database at ``target``,
    past the store: what a test checks the store wrote."""
    if isinstance(target, Path):
        with contextlib.closing(sqlite3.connect(target)) as conn:
            return list(conn.execute(sql, params).fetchall())
    with psycopg.connect(target) as conn:
        return list(conn.execute(to_pyformat(sql), params).fetchall())


def execute(target: str | Path, sql: str, params: Sequence[Any] = ()) -> None:
    """Change the database at ``target`` behind the store's back (damage, old versions)."""
    if isinstance(target, Path):
        with contextlib.closing(sqlite3.connect(target)) as conn:
            conn.execute(sql, params)
            conn.commit()
        return
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(to_pyformat(sql), params)


def database_url(target: str | Path) -> str:
    """``target`` as a ``DATABASE_URL`` setting."""
    return target if isinstance(target, str) else f"sqlite:///{target}"
