"""The versioned schema: an ordered list of SQL scripts, one per schema version.

Migration ``n`` (1-based position in :data:`MIGRATIONS`) takes a database from
``PRAGMA user_version = n - 1`` to ``n``. Rules for adding one:

* Append; never edit or reorder a migration that has shipped.
* No ``BEGIN``/``COMMIT`` inside a script: the runner wraps each migration and its
  version bump in one transaction.
* Statements that cannot run inside a transaction (``PRAGMA journal_mode``,
  ``PRAGMA foreign_keys``, ``VACUUM``) do not belong here.

Timestamps are ISO-8601 UTC text with microseconds (``2025-06-13T20:00:00.000000+00:00``),
so text order is time order. JSON columns hold arrays written with ``ensure_ascii=False``
so that the full-text index sees real letters (``Müller``), not ``\\u00fc`` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema. Its version is its 1-based position in the list.

    ``postgres`` is the step for PostgreSQL where it must differ from SQLite's ``sql``
    (None: the same script runs on both).
    """

    name: str
    sql: str
    postgres: str | None = None


_V1_INITIAL = """
-- Papers, one row per version-less arXiv id, holding the newest version seen.
-- ``id`` aliases the rowid so the FTS index's rowids survive VACUUM (a table keyed by
-- a TEXT primary key alone may have its rowids renumbered by VACUUM).
-- ``announced`` is the OAI-PMH datestamp (YYYY-MM-DD) of the first harvested record of
-- the paper, never overwritten; NULL for papers only ever seen through the search API.
-- ``matched_at`` NULL means the paper still has to go through local matching: set so by
-- the harvest for a new paper, a new version or changed categories (a new cross-list).
CREATE TABLE papers (
    id               INTEGER PRIMARY KEY,
    arxiv_id         TEXT    NOT NULL UNIQUE,
    version          INTEGER NOT NULL CHECK (version >= 1),
    title            TEXT    NOT NULL,
    authors          TEXT    NOT NULL DEFAULT '[]',   -- JSON array of names
    abstract         TEXT    NOT NULL DEFAULT '',
    categories       TEXT    NOT NULL DEFAULT '[]',   -- JSON array, primary first
    primary_category TEXT    NOT NULL DEFAULT '',
    submitted        TEXT    NOT NULL,
    updated          TEXT    NOT NULL,
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    first_seen_at    TEXT    NOT NULL,
    announced        TEXT,
    matched_at       TEXT
);
CREATE INDEX papers_updated ON papers (updated);
CREATE INDEX papers_primary_category ON papers (primary_category);
CREATE INDEX papers_announced ON papers (announced) WHERE announced IS NOT NULL;
CREATE INDEX papers_unmatched ON papers (id) WHERE matched_at IS NULL;

CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, authors, abstract, comment,
    content = 'papers',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, authors, abstract, comment)
    VALUES (new.id, new.title, new.authors, new.abstract, new.comment);
END;

CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, authors, abstract, comment)
    VALUES ('delete', old.id, old.title, old.authors, old.abstract, old.comment);
END;

CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, authors, abstract, comment ON papers
BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, authors, abstract, comment)
    VALUES ('delete', old.id, old.title, old.authors, old.abstract, old.comment);
    INSERT INTO papers_fts (rowid, title, authors, abstract, comment)
    VALUES (new.id, new.title, new.authors, new.abstract, new.comment);
END;

-- A chat channel on one platform. ``mode``: a post per paper (each) or one digest per
-- delivery round (digest). ``paused_reason`` is set (with ``paused_at``) when the
-- platform said the channel is gone or closed to the bot: its deliveries stay queued
-- and are not attempted until it is resumed.
CREATE TABLE channels (
    id            INTEGER PRIMARY KEY,
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    mode          TEXT NOT NULL DEFAULT 'each' CHECK (mode IN ('each', 'digest')),
    paused_reason TEXT,
    paused_at     TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (platform, workspace, channel)
);

-- AUTOINCREMENT so a removed subscription's number is never handed out again:
-- users see these ids (/arxiv unsubscribe 7).
CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    query      TEXT    NOT NULL CHECK (query <> ''),
    created_at TEXT    NOT NULL,
    UNIQUE (channel_id, query)
);

-- One row per (channel, version-less paper): the at-most-once key, and the durable
-- delivery queue. ``kind`` is what the row asks to send: the paper itself (new) or, once
-- delivered, a compact note about a later version (revised). ``version`` is the version
-- to send, ``delivered_version`` the last one the channel got (NULL: never delivered).
-- ``subscription_ids`` (JSON array) are the channel's subscriptions that matched.
-- Status: queued -> sending -> delivered, or back to queued with ``attempts`` + 1 and a
-- later ``next_attempt_at`` after a failure, or failed after the last attempt. While
-- sending, ``claim`` names the dispatcher run that holds the row and ``next_attempt_at``
-- is when that claim lapses (a crashed run's rows are sent again after it).
CREATE TABLE deliveries (
    channel_id        INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    arxiv_id          TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version >= 1),
    kind              TEXT    NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'revised')),
    subscription_ids  TEXT    NOT NULL DEFAULT '[]',
    status            TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at         TEXT    NOT NULL,
    next_attempt_at   TEXT,
    claim             TEXT,
    last_attempt_at   TEXT,
    delivered_at      TEXT,
    delivered_version INTEGER,
    last_error        TEXT,
    PRIMARY KEY (channel_id, arxiv_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_paper ON deliveries (arxiv_id);

-- Small key-value state, e.g. the OAI-PMH harvest watermark.
CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
"""

_V2_SLACK_OAUTH = """
-- The tables slack_sdk's SQLite3InstallationStore and SQLite3OAuthStateStore keep the
-- Slack adapter's OAuth installs in (adapters/slack/oauth.py), created here so that the
-- bot's file has one schema history. The DDL is slack_sdk 3.48.0's
-- (slack_sdk/oauth/installation_store/sqlite3 and state_store/sqlite3, create_tables),
-- copied verbatim except for IF NOT EXISTS: where slack_sdk already created them, this
-- step changes nothing. slack_sdk only creates them when ``slack_installations`` or
-- ``oauth_states`` is missing, so after this step it creates nothing itself.
create table if not exists slack_installations (
    id integer primary key autoincrement,
    client_id text not null,
    app_id text not null,
    enterprise_id text not null default '',
    enterprise_name text,
    enterprise_url text,
    team_id text not null default '',
    team_name text,
    bot_token text,
    bot_id text,
    bot_user_id text,
    bot_scopes text,
    bot_refresh_token text,  -- since v3.8
    bot_token_expires_at datetime,  -- since v3.8
    user_id text not null,
    user_token text,
    user_scopes text,
    user_refresh_token text,  -- since v3.8
    user_token_expires_at datetime,  -- since v3.8
    incoming_webhook_url text,
    incoming_webhook_channel text,
    incoming_webhook_channel_id text,
    incoming_webhook_configuration_url text,
    is_enterprise_install boolean not null default 0,
    token_type text,
    installed_at datetime not null default current_timestamp
);
create index if not exists slack_installations_idx on slack_installations (
    client_id,
    enterprise_id,
    team_id,
    user_id,
    installed_at
);
create table if not exists slack_bots (
    id integer primary key autoincrement,
    client_id text not null,
    app_id text not null,
    enterprise_id text not null default '',
    enterprise_name text,
    team_id text not null default '',
    team_name text,
    bot_token text not null,
    bot_id text not null,
    bot_user_id text not null,
    bot_scopes text,
    bot_refresh_token text,  -- since v3.8
    bot_token_expires_at datetime,  -- since v3.8
    is_enterprise_install boolean not null default 0,
    installed_at datetime not null default current_timestamp
);
create index if not exists slack_bots_idx on slack_bots (
    client_id,
    enterprise_id,
    team_id,
    installed_at
);
create table if not exists oauth_states (
    id integer primary key autoincrement,
    state text not null,
    expire_at datetime not null
);
"""

_V3_OUTBOX = """
-- The outbox: every platform message of a planned post or digest, written before the
-- first one is sent, so a crash resumes at the next message and never re-plans. A
-- channel's messages go out in id order. ``payload`` is the adapter's rendering (JSON);
-- the deliveries it shows point at it (``deliveries.message_id``) and are delivered when
-- it lands; ``thread_of`` is the message whose thread it replies in. ``claim`` names the
-- process sending it (host:pid:boot) until ``lease_until``; ``sent_ref`` is the
-- platform's id for it once sent (Slack ts, Discord message id). A message whose claim
-- lapsed, or that failed an attempt, may have landed: it is looked for (read back)
-- before it is sent again.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    payload         TEXT    NOT NULL,
    thread_of       INTEGER REFERENCES outbox (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    claim           TEXT,
    lease_until     TEXT,
    sent_ref        TEXT,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_open ON outbox (channel_id, id) WHERE status IN ('pending', 'sending');

-- A delivery planned into the outbox is 'sending' with the message that shows it; it
-- becomes 'delivered' when that message lands. Claims and backoff moved to the outbox:
-- rows an older arxiv-bot had claimed go back to the queue.
ALTER TABLE deliveries ADD COLUMN message_id INTEGER REFERENCES outbox (id) ON DELETE SET NULL;
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL;
UPDATE deliveries SET status = 'queued', claim = NULL, next_attempt_at = NULL
    WHERE status = 'sending';

-- How many full cards a digest of this channel carries; NULL: the DIGEST_CARDS setting.
ALTER TABLE channels ADD COLUMN digest_cards INTEGER CHECK (digest_cards >= 0);

-- Idempotency keys must not repeat across databases posting to the same channel (a
-- fresh database restarts outbox ids at 1): each database draws its own prefix.
INSERT OR IGNORE INTO state (key, value, updated_at)
    VALUES ('outbox.instance', lower(hex(randomblob(4))), strftime('%Y-%m-%dT%H:%M:%f+00:00'));
"""

_V4_QUERIES_AS_TYPED = """
-- A subscription's ``query`` is now the query as the user typed it (shown back to them:
-- au:Müller, not au:müller); ``canonical`` is its normalised form, which duplicates are
-- found by. Until now ``query`` held the canonical form, so it is both for older rows.
ALTER TABLE subscriptions ADD COLUMN canonical TEXT NOT NULL DEFAULT '';
UPDATE subscriptions SET canonical = query;
CREATE UNIQUE INDEX subscriptions_canonical ON subscriptions (channel_id, canonical);
"""

_V5_COVERAGE = """
-- What the local index holds: every record arXiv changed in an OAI-PMH set from
-- ``start`` to ``end`` (days, inclusive) has been harvested. ``set_spec`` '*' is all of
-- arXiv. Ranges of one set never overlap or touch (bot/store/coverage.py merges them).
CREATE TABLE coverage (
    set_spec TEXT NOT NULL,
    start    TEXT NOT NULL,
    "end"    TEXT NOT NULL CHECK ("end" >= start),
    PRIMARY KEY (set_spec, start)
);
"""

_V6_PAPER_INDEX = """
-- The search index: the words of every paper as bot/localsearch/terms.py writes them
-- (the local matcher's stems, made safe for FTS5's ascii tokenizer), written by the
-- store in the transaction that writes the paper. Its rowid is the paper's ``id``.
-- The papers' ids become row numbers in arXiv's order (bot/localsearch/numbering.py),
-- and the index is filled, by the store when it opens the database (Python code, so
-- not in this script): until then the ``state`` key ``index.format`` is missing.
DROP TRIGGER papers_fts_insert;
DROP TRIGGER papers_fts_update;
DROP TRIGGER papers_fts_delete;
DROP TABLE papers_fts;
CREATE VIRTUAL TABLE paper_index USING fts5 (
    ti, abs, co, jr, au, aus, cat, cats,
    tokenize = "ascii tokenchars '_'"
);
-- How many papers hold each word: what /arxiv similar weighs words by.
CREATE VIRTUAL TABLE paper_index_words USING fts5vocab (paper_index, row);
CREATE TRIGGER paper_index_delete AFTER DELETE ON papers BEGIN
    DELETE FROM paper_index WHERE rowid = old.id;
END;
"""

_V7_FEEDBACK = """
-- Feedback on the bot's paper posts (bot/feedback.py): one row per channel, paper, user,
-- source ('reaction' or 'button') and emoji (normalised, e.g. '+1'), with its signal
-- (+1 liked, -1 not for us). Adding the same reaction twice is one row; removing it
-- deletes the row. ``arxiv_id`` is version-less and outlives the paper's row.
CREATE TABLE feedback (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    arxiv_id   TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('reaction', 'button')),
    emoji      TEXT    NOT NULL,
    signal     INTEGER NOT NULL CHECK (signal IN (-1, 1)),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (channel_id, arxiv_id, user, source, emoji)
) WITHOUT ROWID;
CREATE INDEX feedback_recent ON feedback (channel_id, created_at);

-- Which papers each outbox message shows, kept for good: ``deliveries.message_id`` names
-- only the latest message of a (channel, paper), so a revised note would otherwise hide
-- the original post. Filled by a trigger whenever planning points a delivery at a
-- message (bot/store/outbox.py), and here from the deliveries planned so far. Rows go
-- with their message when retention prunes it.
CREATE TABLE outbox_papers (
    message_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    arxiv_id   TEXT    NOT NULL,
    PRIMARY KEY (message_id, arxiv_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO outbox_papers (message_id, arxiv_id)
    SELECT message_id, arxiv_id FROM deliveries WHERE message_id IS NOT NULL;
CREATE TRIGGER outbox_papers_planned AFTER UPDATE OF message_id ON deliveries
    WHEN new.message_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO outbox_papers (message_id, arxiv_id)
        VALUES (new.message_id, new.arxiv_id);
END;

-- A platform event names a sent message by its channel and platform reference.
CREATE INDEX outbox_sent_ref ON outbox (channel_id, sent_ref) WHERE sent_ref IS NOT NULL;
"""

_V8_AUTHOR_PAIRS = """
-- The search index gains the column ``aup`` (pairs of words of one author's name, which
-- make two-word au: names exact; bot/localsearch/terms.py). FTS5 tables cannot gain a
-- column, so the index is made again, empty: the store fills it when it opens the
-- database, as after migration 6, because ``index.format`` is gone.
DROP TRIGGER paper_index_delete;
DROP TABLE paper_index_words;
DROP TABLE paper_index;
CREATE VIRTUAL TABLE paper_index USING fts5 (
    ti, abs, co, jr, au, aus, cat, cats, aup,
    tokenize = "ascii tokenchars '_'"
);
CREATE VIRTUAL TABLE paper_index_words USING fts5vocab (paper_index, row);
CREATE TRIGGER paper_index_delete AFTER DELETE ON papers BEGIN
    DELETE FROM paper_index WHERE rowid = old.id;
END;
DELETE FROM state WHERE key IN ('index.format', 'index.rebuilt_through');
"""

_V9_RANKING = """
-- Whether a channel's papers are ordered by its own ranking (bot/ranking, trained on its
-- feedback) or by match strength and date: /arxiv ranking on|off. On for every channel.
ALTER TABLE channels ADD COLUMN ranking INTEGER NOT NULL DEFAULT 1 CHECK (ranking IN (0, 1));
"""

_V10_CHANNEL_SCHEDULES = """
-- When a channel's papers are posted (/arxiv schedule, bot/post_schedule.py): NULL posts
-- right after each harvest (asap); otherwise the canonical form, e.g. 'daily 09:00
-- Europe/Berlin' or 'weekly mon 09:00 UTC'. ``next_post_at`` (ISO-8601 UTC) is the next
-- post time of a scheduled channel: its queued deliveries wait until then, and planning
-- them moves it on in the same transaction, so a missed time is caught up exactly once.
ALTER TABLE channels ADD COLUMN schedule TEXT;
ALTER TABLE channels ADD COLUMN next_post_at TEXT;
CREATE INDEX channels_next_post ON channels (next_post_at) WHERE next_post_at IS NOT NULL;
"""


# -- PostgreSQL's parts ----------------------------------------------------------------
# The same tables, columns and constraints where the two databases can say the same
# thing. Integers that may exceed 2^31 (row numbers, ids) are BIGINT; SQLite's rowid
# tables become identity columns; the search index is a tsvector with a GIN index
# (bot/store/pg_index.py writes it) instead of FTS5.

_V1_INITIAL_PG = """
CREATE TABLE papers (
    id               BIGINT  PRIMARY KEY,
    arxiv_id         TEXT    NOT NULL UNIQUE,
    version          INTEGER NOT NULL CHECK (version >= 1),
    title            TEXT    NOT NULL,
    authors          TEXT    NOT NULL DEFAULT '[]',
    abstract         TEXT    NOT NULL DEFAULT '',
    categories       TEXT    NOT NULL DEFAULT '[]',
    primary_category TEXT    NOT NULL DEFAULT '',
    submitted        TEXT    NOT NULL,
    updated          TEXT    NOT NULL,
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    first_seen_at    TEXT    NOT NULL,
    announced        TEXT,
    matched_at       TEXT
);
CREATE INDEX papers_updated ON papers (updated);
CREATE INDEX papers_primary_category ON papers (primary_category);
CREATE INDEX papers_announced ON papers (announced) WHERE announced IS NOT NULL;
CREATE INDEX papers_unmatched ON papers (id) WHERE matched_at IS NULL;

CREATE TABLE channels (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    mode          TEXT NOT NULL DEFAULT 'each' CHECK (mode IN ('each', 'digest')),
    paused_reason TEXT,
    paused_at     TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (platform, workspace, channel)
);

CREATE TABLE subscriptions (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    channel_id BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    query      TEXT    NOT NULL CHECK (query <> ''),
    created_at TEXT    NOT NULL,
    UNIQUE (channel_id, query)
);

CREATE TABLE deliveries (
    channel_id        BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    arxiv_id          TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version >= 1),
    kind              TEXT    NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'revised')),
    subscription_ids  TEXT    NOT NULL DEFAULT '[]',
    status            TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at         TEXT    NOT NULL,
    next_attempt_at   TEXT,
    claim             TEXT,
    last_attempt_at   TEXT,
    delivered_at      TEXT,
    delivered_version INTEGER,
    last_error        TEXT,
    PRIMARY KEY (channel_id, arxiv_id)
);
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_paper ON deliveries (arxiv_id);

CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

_V2_SLACK_OAUTH_PG = """
-- slack_sdk's SQLAlchemy stores' tables (slack_sdk 3.48.0,
-- oauth/installation_store/sqlalchemy and oauth/state_store/sqlalchemy), the state
-- table under SQLite's name: adapters/slack/oauth.py uses them on PostgreSQL.
CREATE TABLE slack_installations (
    id SERIAL PRIMARY KEY,
    client_id VARCHAR(32) NOT NULL,
    app_id VARCHAR(32) NOT NULL,
    enterprise_id VARCHAR(32),
    enterprise_name VARCHAR(200),
    enterprise_url VARCHAR(200),
    team_id VARCHAR(32),
    team_name VARCHAR(200),
    bot_token VARCHAR(200),
    bot_id VARCHAR(32),
    bot_user_id VARCHAR(32),
    bot_scopes VARCHAR(1000),
    bot_refresh_token VARCHAR(200),
    bot_token_expires_at TIMESTAMP,
    user_id VARCHAR(32) NOT NULL,
    user_token VARCHAR(200),
    user_scopes VARCHAR(1000),
    user_refresh_token VARCHAR(200),
    user_token_expires_at TIMESTAMP,
    incoming_webhook_url VARCHAR(200),
    incoming_webhook_channel VARCHAR(200),
    incoming_webhook_channel_id VARCHAR(200),
    incoming_webhook_configuration_url VARCHAR(200),
    is_enterprise_install BOOLEAN NOT NULL,
    token_type VARCHAR(32),
    installed_at TIMESTAMP NOT NULL DEFAULT now()
);
CREATE INDEX slack_installations_idx ON slack_installations
    (client_id, enterprise_id, team_id, user_id, installed_at);
CREATE TABLE slack_bots (
    id SERIAL PRIMARY KEY,
    client_id VARCHAR(32) NOT NULL,
    app_id VARCHAR(32) NOT NULL,
    enterprise_id VARCHAR(32),
    enterprise_name VARCHAR(200),
    team_id VARCHAR(32),
    team_name VARCHAR(200),
    bot_token VARCHAR(200),
    bot_id VARCHAR(32),
    bot_user_id VARCHAR(32),
    bot_scopes VARCHAR(1000),
    bot_refresh_token VARCHAR(200),
    bot_token_expires_at TIMESTAMP,
    is_enterprise_install BOOLEAN NOT NULL,
    installed_at TIMESTAMP NOT NULL DEFAULT now()
);
CREATE INDEX slack_bots_idx ON slack_bots (client_id, enterprise_id, team_id, installed_at);
CREATE TABLE oauth_states (
    id SERIAL PRIMARY KEY,
    state VARCHAR(200) NOT NULL,
    expire_at TIMESTAMP NOT NULL
);
"""

_V3_OUTBOX_PG = """
CREATE TABLE outbox (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    channel_id      BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    payload         TEXT    NOT NULL,
    thread_of       BIGINT  REFERENCES outbox (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    claim           TEXT,
    lease_until     TEXT,
    sent_ref        TEXT,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_open ON outbox (channel_id, id) WHERE status IN ('pending', 'sending');
ALTER TABLE deliveries ADD COLUMN message_id BIGINT REFERENCES outbox (id) ON DELETE SET NULL;
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL;
UPDATE deliveries SET status = 'queued', claim = NULL, next_attempt_at = NULL
    WHERE status = 'sending';
ALTER TABLE channels ADD COLUMN digest_cards INTEGER CHECK (digest_cards >= 0);
INSERT INTO state (key, value, updated_at)
    VALUES ('outbox.instance', substr(md5(random()::text), 1, 8),
            to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
    ON CONFLICT DO NOTHING;
"""

_V6_PAPER_INDEX_PG = """
-- One tsvector a paper: bot/localsearch/terms.py's tokens, each prefixed with its
-- column ("ti.", "abs.", ...) so that one GIN index answers column filters, with
-- positions so that phrases work (bot/store/pg_index.py).
CREATE TABLE paper_index (
    id  BIGINT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    doc TSVECTOR NOT NULL
);
CREATE INDEX paper_index_doc ON paper_index USING gin (doc);
"""

_V7_FEEDBACK_PG = """
CREATE TABLE feedback (
    channel_id BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    arxiv_id   TEXT    NOT NULL,
    "user"     TEXT    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('reaction', 'button')),
    emoji      TEXT    NOT NULL,
    signal     INTEGER NOT NULL CHECK (signal IN (-1, 1)),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (channel_id, arxiv_id, "user", source, emoji)
);
CREATE INDEX feedback_recent ON feedback (channel_id, created_at);

CREATE TABLE outbox_papers (
    message_id BIGINT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    arxiv_id   TEXT   NOT NULL,
    PRIMARY KEY (message_id, arxiv_id)
);
INSERT INTO outbox_papers (message_id, arxiv_id)
    SELECT message_id, arxiv_id FROM deliveries WHERE message_id IS NOT NULL
    ON CONFLICT DO NOTHING;
CREATE FUNCTION outbox_papers_planned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_papers (message_id, arxiv_id)
        VALUES (NEW.message_id, NEW.arxiv_id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_papers_planned AFTER UPDATE OF message_id ON deliveries
    FOR EACH ROW WHEN (NEW.message_id IS NOT NULL) EXECUTE FUNCTION outbox_papers_planned();

CREATE INDEX outbox_sent_ref ON outbox (channel_id, sent_ref) WHERE sent_ref IS NOT NULL;
"""

_V8_AUTHOR_PAIRS_PG = """
TRUNCATE paper_index;
DELETE FROM state WHERE key IN ('index.format', 'index.rebuilt_through');
"""

_V11_LEASES = """
-- Leases (bot/leadership.py): which process of several on one database does a job that
-- must run once for all of them (the harvest), until when. A holder that stops renewing
-- (killed) loses it at ``expires_at``; another process takes it then.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("initial schema", _V1_INITIAL, _V1_INITIAL_PG),
    Migration("slack_sdk OAuth tables", _V2_SLACK_OAUTH, _V2_SLACK_OAUTH_PG),
    Migration("outbox", _V3_OUTBOX, _V3_OUTBOX_PG),
    Migration("queries as typed", _V4_QUERIES_AS_TYPED),
    Migration("index coverage", _V5_COVERAGE),
    Migration("search index", _V6_PAPER_INDEX, _V6_PAPER_INDEX_PG),
    Migration("feedback", _V7_FEEDBACK, _V7_FEEDBACK_PG),
    Migration("author pairs in the search index", _V8_AUTHOR_PAIRS, _V8_AUTHOR_PAIRS_PG),
    Migration("per-channel ranking switch", _V9_RANKING),
    Migration("per-channel schedules", _V10_CHANNEL_SCHEDULES),
    Migration("leases", _V11_LEASES),
)
"""Every migration, oldest first."""

LATEST_VERSION = len(MIGRATIONS)
"""The schema version this code writes and expects."""
