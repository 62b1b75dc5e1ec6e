"""The sampler's own database: engine creation, declarative base and schema-version check.

The tables can live in the same database as an Optuna RDB storage or in a separate one. Every
table is prefixed ``vmle_`` so it never collides with Optuna's.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import sqlalchemy
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.pool import StaticPool


if TYPE_CHECKING:
    import optuna


# 2: transcripts and cognition summaries (notes and insights moved to the study's storage
# and their old tables are no longer read).
SCHEMA_VERSION = 2
MEMORY_URL_ENV = "VMLE_MEMORY_URL"
PROCESS_LOCAL_URL = "sqlite://"

_engines: dict[str, sqlalchemy.Engine] = {}
_engines_lock = threading.Lock()


class SchemaVersionError(RuntimeError):
    """The database was written by an incompatible version of optuna-vmle."""


class Base(DeclarativeBase):
    """Declarative base of all optuna-vmle tables."""


class SchemaVersion(Base):
    __tablename__ = "vmle_schema_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    package: Mapped[str] = mapped_column(String(64))


def tables_url_for(study: optuna.Study, configured: str | None = None) -> str:
    """The database of the sampler's tables for ``study``.

    ``configured`` if given, else the study's own RDB URL, else ``$VMLE_MEMORY_URL``, else
    :data:`PROCESS_LOCAL_URL`, a database of this process only (see :func:`is_process_local`).
    """
    if configured:
        return configured
    storage = getattr(study._storage, "_backend", study._storage)
    url = getattr(storage, "url", None)
    if isinstance(url, str) and not url.startswith("sqlite:///:memory:"):
        return url
    return os.environ.get(MEMORY_URL_ENV, PROCESS_LOCAL_URL)


def is_process_local(url: str) -> bool:
    """Whether the database at ``url`` lives in this process only (in-memory sqlite)."""
    parsed = sqlalchemy.engine.make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def get_engine(url: str) -> sqlalchemy.Engine:
    """One engine per URL per process, with the schema created and its version checked."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _create_and_check_schema(engine, url)
            _engines[url] = engine
        return engine


def _create_engine(url: str) -> sqlalchemy.Engine:
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url, pool_pre_ping=True, future=True)
    if is_process_local(url):
        return sqlalchemy.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    # Several workers on one sqlite file wait for the write lock instead of failing at once.
    return sqlalchemy.create_engine(url, connect_args={"timeout": 60})


def _create_and_check_schema(engine: sqlalchemy.Engine, url: str) -> None:
    safe_url = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    try:
        Base.metadata.create_all(engine, checkfirst=True)
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise RuntimeError(f"cannot open optuna-vmle tables at {safe_url}: {error}") from None
    with engine.connect() as connection:
        row = connection.execute(sqlalchemy.select(SchemaVersion).limit(1)).first()
    if row is None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    sqlalchemy.insert(SchemaVersion).values(
                        id=1, version=SCHEMA_VERSION, package="optuna-vmle"
                    )
                )
        except sqlalchemy.exc.IntegrityError:
            pass  # Another worker created it first.
        return
    if row.version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the optuna-vmle tables at {safe_url} have schema version {row.version}, "
            f"this optuna-vmle expects {SCHEMA_VERSION}; use a matching optuna-vmle version "
            "or a separate database (memory_url=...)"
        )
