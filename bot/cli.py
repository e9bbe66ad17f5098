"""The ``arxiv-bot`` command line: ``run`` the bot, or ``search`` and ``paper`` once."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TypeVar

import click

from bot import __version__
from bot.adapter import CommandContext, choose_factories, discover_factories, runs_as_service
from bot.app import BotApp
from bot.backfill import Backfill, BackfillProgress
from bot.backfill_progress import ProgressView, summary
from bot.categories import parse_oai_sets
from bot.commands.grammar import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_PAGE,
    SPECS,
    PaperCommand,
    SearchCommand,
    split_options,
)
from bot.config import Settings, load_settings
from bot.cycle import CycleReport
from bot.errors import (
    ArxivRejectedError,
    CommandError,
    HarvestError,
    LimitError,
    PaperIdError,
    QueryError,
    UserError,
)
from bot.export.files import ExportFile
from bot.export.offline import export_channel, export_queries
from bot.export.sections import ExportFormat
from bot.models import ChannelRef, Reply, SortOrder, Tone
from bot.observability.logs import configure_logging
from bot.query import parse_query
from bot.render import plural, reply_text
from bot.retention import Retention
from bot.secrets import mask_secrets
from bot.store import Store, upkeep
from bot.store.copy import BATCH, CopyInputError, CopyReport, build_index, copy_database
from bot.tables import print_reply_table
from bot.typography import option_text, plain

T = TypeVar("T")

CLI_CHANNEL = ChannelRef(platform="cli", workspace="local", channel="cli", name="cli")

EXIT_USAGE = 2
"""The settings or the command line are wrong as written, as for click's usage errors.
Any other failure (arXiv, the database, a delivery, a platform refusing a token) exits
1, click's default. The table is in docs/configuration.md#exit-codes."""

_INPUT_ERRORS = (CommandError, QueryError, PaperIdError, LimitError, ArxivRejectedError)
"""Errors in what the person typed: fixing the input, not retrying, helps."""


_VERBOSE = "arxiv_bot.verbose"
"""Where ``-v`` counts are kept in click's context (shared by the group and commands)."""


def _count_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    ctx.meta[_VERBOSE] = ctx.meta.get(_VERBOSE, 0) + value


verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    expose_value=False,
    callback=_count_verbose,
    help="Log more: -v shows INFO, -vv DEBUG (whatever LOG_LEVEL says).",
)


def _configure_logging(settings: Settings, *, service: bool = False) -> None:
    """Logging for a service (Slack or Discord: INFO) or the terminal (WARNING), unless
    LOG_LEVEL or -v says otherwise."""
    verbose = click.get_current_context().meta.get(_VERBOSE, 0)
    configure_logging(settings, service=service, verbose=verbose)


class _UsageFailure(click.ClickException):
    """Shown like any click failure (``Error: ...`` on standard error), but exits 2."""

    exit_code = EXIT_USAGE


def _failure(error: UserError, *, settings: bool = False) -> click.ClickException:
    """``error`` as one ``Error: ...`` on standard error, exiting 2 when the settings
    (``settings``: found invalid before anything ran) or the input are wrong, else 1."""
    usage = settings or isinstance(error, _INPUT_ERRORS)
    return (_UsageFailure if usage else click.ClickException)(mask_secrets(str(error)))


failure = _failure
"""For the commands adapters add (``discord-sync``): the same exit codes."""


def _settings_or_exit(**overrides: object) -> Settings:
    """The settings, and logging set up for a command in the terminal."""
    settings = _load_settings_or_exit(**overrides)
    _configure_logging(settings)
    return settings


def _load_settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except UserError as error:
        raise _failure(error, settings=True) from None


def _run(coroutine: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_call(coroutine))
    except UserError as error:
        raise _failure(error) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


async def _call(coroutine: Callable[[], Awaitable[T]]) -> T:
    return await coroutine()


CLI_ENTRY_POINT_GROUP = "arxiv_bot.cli"


class _PluginGroup(click.Group):
    """The built-in commands, plus those adapters contribute by entry point
    (``arxiv-bot discord-sync``), imported only when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        plugins = entry_points(group=CLI_ENTRY_POINT_GROUP).names
        return sorted({*super().list_commands(ctx), *plugins})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        for entry in entry_points(group=CLI_ENTRY_POINT_GROUP, name=cmd_name):
            try:
                loaded = entry.load()
            except Exception as error:  # a broken plug-in must not break the command line
                logging.getLogger(__name__).warning("command %s not loaded: %s", cmd_name, error)
                return None
            return loaded if isinstance(loaded, click.Command) else None
        return None


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arxiv-bot")
@verbose_option
def cli() -> None:
    """New arXiv papers in your team's chat. Settings come from the environment and .env."""


@cli.command()
@click.option(
    "--channel",
    default="console",
    show_default=True,
    help="Name of the console adapter's channel.",
)
@click.option(
    "--console/--no-console",
    default=None,
    help="Force the console adapter on or off (default: on when no platform is configured).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Run one harvest, match and delivery cycle, then exit (for cron and CI).",
)
@verbose_option
def run(channel: str, console: bool | None, once: bool) -> None:
    """Run the bot: Slack and Discord when configured, else the console."""
    settings = _load_settings_or_exit()
    try:
        factories = choose_factories(discover_factories(), console=console)
    except UserError as error:  # an adapter's settings
        raise _failure(error, settings=True) from None
    _configure_logging(settings, service=runs_as_service(factories))

    async def main() -> str | None:
        async with BotApp(settings) as app:
            report = await app.run(factories, channel=channel, once=once)
            return await _cycle_failure(app, report) if once else None

    failed = _run(main)
    if failed:
        raise click.ClickException(failed)  # exit code 1


async def _cycle_failure(app: BotApp, report: CycleReport | None) -> str | None:
    """Why ``run --once`` failed, in one line, or None when its cycle succeeded.

    A failed harvest, a failed post and a channel paused this cycle count; nothing due,
    and posts left for a platform that is not running, do not.
    """
    if report is None:
        return "stopped before the cycle finished"
    problems = []
    if report.harvest is None:
        why = await app.harvester.last_error() or "see the log above"
        problems.append(f"the harvest failed: {why}")
    delivered = report.delivered
    if delivered.failed:
        problems.append(
            f"{plural(delivered.failed, 'post')} failed ({plural(delivered.gave_up, 'paper')} "
            "given up, the rest are retried)"
        )
    if delivered.paused:
        problems.append(f"posting is paused in {', '.join(delivered.paused)}")
    return mask_secrets("; ".join(problems)) if problems else None


def query_from_argv(words: Sequence[str]) -> str:
    """Rebuild a query from shell words, re-quoting words the shell un-quoted.

    ``arxiv-bot search ti:"medical imaging"`` reaches us as ``ti:medical imaging``;
    a word with spaces was a quoted phrase, so it is quoted again.
    """
    rebuilt = []
    for word in words:
        if re.search(r"\s", word) and '"' not in plain(word):  # “curly” quotes count
            field = re.match(r"^([a-z]+):(.+)$", word, flags=re.DOTALL)
            word = f'{field[1]}:"{field[2]}"' if field else f'"{word}"'
        rebuilt.append(word)
    return " ".join(rebuilt)


def search_from_argv(words: Sequence[str], given: Mapping[str, str]) -> SearchCommand:
    """The search that shell words ask for, read as in chat: options inside a quoted
    query (``'ti:"medical imaging" --sort date'``) are options, like ``given``, the ones
    typed outside it. Raises :class:`CommandError` or :class:`QueryError`."""
    spec = SPECS["search"]
    options = dict(given)
    kept = []
    for word in words:
        rest, found = split_options(word, spec.options, spec.name)
        twice = sorted(found.keys() & options.keys())
        if twice:
            raise CommandError(f"Option --{twice[0]} is given twice; keep one.")
        options.update(found)
        kept.append(rest if found else query_from_argv([word]))
    command = spec.parse(" ".join(kept).strip(), options)
    assert isinstance(command, SearchCommand)
    return command


def _print_reply(reply: Reply) -> None:
    if sys.stdout.isatty():
        print_reply_table(reply, shell=True)
    else:
        click.echo(reply_text(reply, shell=True))
    if reply.tone is Tone.ERROR:
        raise SystemExit(1)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option(
    "--sort",
    type=click.Choice([order.value for order in SortOrder]),
    default=SortOrder.RELEVANCE.value,
    show_default=True,
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    show_default=True,
)
@click.option(
    "--page",
    type=click.IntRange(1, MAX_PAGE),
    default=1,
    show_default=True,
    help="Which page of --limit results to show.",
)
@verbose_option
def search(query: tuple[str, ...], sort: str, limit: int, page: int) -> None:
    """Search arXiv once, e.g.  arxiv-bot search 'ti:"diffusion model" AND cat:cs.CV'"""
    settings = _settings_or_exit()
    context = click.get_current_context()
    typed = {
        name: str(value)
        for name, value in (("sort", sort), ("limit", limit), ("page", page))
        if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    try:
        command = search_from_argv(query, typed)
    except UserError as error:
        raise _failure(error) from None

    async def main() -> Reply:
        async with BotApp(settings) as app:
            return await app.handle(command, CommandContext(CLI_CHANNEL))

    _print_reply(_run(main))


@cli.command()
@click.argument("reference")
@verbose_option
def paper(reference: str) -> None:
    """Show one paper by arXiv id or URL, e.g.  arxiv-bot paper 2506.11674"""
    settings = _settings_or_exit()

    async def main() -> Reply:
        async with BotApp(settings) as app:
            return await app.handle(PaperCommand(reference), CommandContext(CLI_CHANNEL))

    _print_reply(_run(main))


@cli.command()
@click.option(
    "--since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, YYYY-MM-DD."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day, YYYY-MM-DD [today, UTC]."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SET",
    help="An arXiv set (cs, eess, hep-th, all), repeatable [INDEX_SETS and subscriptions].",
)
@verbose_option
def backfill(since: datetime, until: datetime | None, sets: tuple[str, ...]) -> None:
    """Fill the local index with papers from OAI-PMH; run it again to resume."""
    settings = _settings_or_exit()
    today = datetime.now(UTC).date()
    first, last = since.date(), until.date() if until else today
    if last > today:
        raise _UsageFailure(f"--until {last} is in the future (today is {today}, UTC)")
    if first > last:
        raise _UsageFailure(f"--since {first} is after --until {last}")
    try:
        chosen = parse_oai_sets(" ".join(sets)) if sets else ()
    except ValueError as error:
        raise _UsageFailure(f"--set: {error}") from None
    view = ProgressView(sys.stderr)

    async def main() -> BackfillProgress:
        async with BotApp(settings) as app:
            scope = chosen if chosen != () else await app.harvester.scope()
            names = ", ".join(scope) if scope is not None else "all of arXiv"
            click.echo(f"Backfilling {names} from {first} to {last}.", err=True)
            job = Backfill(store=app.store, oai=app.oai, harvester=app.harvester)
            with view:
                try:
                    return await job.run(scope, first, last, view)
                except HarvestError as error:
                    raise click.ClickException(
                        f"{error}; run the same command again to resume"
                    ) from None

    try:
        done = _run(main)
    except SystemExit as stop:
        if stop.code == 130:
            click.echo("Stopped; run the same command again to resume.", err=True)
        raise
    click.echo(
        f"Backfill done: {done.done} windows ({done.skipped} covered before), "
        f"{summary(done)}, {done.seconds:,.0f} s."
    )


@cli.group()
def db() -> None:
    """Back up, check, prune and copy the database (DATABASE_URL)."""


@db.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE when it exists.")
@verbose_option
def db_backup(file: Path, force: bool) -> None:
    """Copy the database to FILE, safely while the bot runs (a directory: a dated file in it)."""
    settings = _settings_or_exit()
    if settings.uses_postgres:
        from bot.store.pg_upkeep import BACKUP_ADVICE

        raise _UsageFailure(BACKUP_ADVICE)
    target = file / upkeep.backup_name(datetime.now(UTC)) if file.is_dir() else file
    if not target.parent.is_dir():
        raise _UsageFailure(f"{target.parent} is not a directory: create it, or back up elsewhere")
    if upkeep.same_database(target, settings.database_path):
        raise _UsageFailure(f"{target} is the database itself: back it up to another file")
    try:
        result = upkeep.backup(
            settings.database_path,
            target,
            overwrite=force,
            busy_timeout=settings.database_busy_timeout,
        )
    except FileExistsError:
        raise _UsageFailure(
            f"{target} exists already: name another file, or add --force to overwrite it"
        ) from None
    except UserError as error:
        raise _failure(error) from None
    click.echo(result.describe(settings.database_path))


@db.command("check")
@verbose_option
def db_check() -> None:
    """Check the database's integrity and schema version (exit 1 when it has problems)."""
    settings = _settings_or_exit()
    try:
        if settings.uses_postgres:
            from bot.store.pg_upkeep import check_postgres

            report = check_postgres(settings.database_url)
        else:
            report = upkeep.check(
                settings.database_path, busy_timeout=settings.database_busy_timeout
            )
    except UserError as error:
        raise _failure(error) from None
    click.echo("\n".join(report.lines()))
    if not report.ok:
        raise click.ClickException(
            f"{plural(len(report.problems), 'problem')} found in the database "
            f"{report.database}: see docs/storage.md#checking-and-restoring"
        )


@db.command("prune")
@click.option(
    "--days",
    type=click.IntRange(0, 36500),
    help="Prune what is older than this many days instead of RETENTION_DAYS.",
)
@verbose_option
def db_prune(days: int | None) -> None:
    """Delete old papers and sent messages now, as the bot does once a day."""
    settings = _settings_or_exit()
    keep = settings.retention_days if days is None else days
    if not keep:
        click.echo("RETENTION_DAYS is 0: everything is kept, nothing was pruned.")
        return

    async def main() -> str:
        async with await Store.open(
            settings.database_target, busy_timeout=settings.database_busy_timeout
        ) as store:
            retention = Retention(store, days=keep)
            counts = await retention.prune()
            return f"Pruned {counts} from before {retention.cutoff()} ({plural(keep, 'day')} ago)."

    click.echo(_run(main))


@db.command("copy")
@click.argument("source")
@click.argument("target")
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=BATCH,
    show_default=True,
    help="Rows read and written at a time.",
)
@verbose_option
def db_copy(source: str, target: str, batch: int) -> None:
    """Copy the bot's data from SOURCE to the empty database TARGET, e.g. to move from
    SQLite to PostgreSQL (or back):

    \b
      arxiv-bot db copy sqlite:///arxiv-bot.db postgresql://bot:secret@db:5432/arxiv

    Channels, subscriptions (same numbers), papers, deliveries, the outbox, feedback,
    coverage, the harvest watermark and Slack installs are copied in one transaction:
    nothing is posted again, and a failed copy leaves TARGET empty. Stop the bot first;
    then point DATABASE_URL at TARGET. URLs: sqlite:///relative.db, sqlite:////abs.db,
    postgresql://user:password@host:5432/database.
    """
    settings = _settings_or_exit()

    async def main() -> CopyReport:
        try:
            return await copy_database(
                source,
                target,
                batch=batch,
                busy_timeout=settings.database_busy_timeout,
                progress=lambda line: click.echo(f"Copying {line}", err=True),
            )
        except CopyInputError as error:
            raise _UsageFailure(mask_secrets(str(error))) from None

    report = _run(main)
    click.echo("\n".join(report.lines()))
    # The target's search index is built now: show its progress as the store logs it.
    index_log = logging.getLogger("bot.store.paper_index")
    level = index_log.level
    index_log.setLevel(min(index_log.getEffectiveLevel(), logging.INFO))
    started = time.monotonic()
    try:
        indexed = _run(lambda: build_index(target, busy_timeout=settings.database_busy_timeout))
    except click.ClickException as error:
        raise click.ClickException(
            f"The copy is complete, but its search index was not built ({error.message}): "
            "the bot builds it when it starts."
        ) from None
    finally:
        index_log.setLevel(level)
    click.echo(
        f"Search index built: {plural(indexed, 'paper')} in {time.monotonic() - started:.1f} s."
    )
    click.echo(
        f"Next: set DATABASE_URL to TARGET ({report.target}) for the bot and every "
        "replica, then start them. Keep SOURCE as a backup until the bot runs well."
    )


def _export_channel(value: str) -> ChannelRef:
    """``--channel``: the console channel's name, or ``platform:workspace:channel``."""
    parts = value.split(":")
    if len(parts) == 3 and all(parts):
        return ChannelRef(platform=parts[0], workspace=parts[1], channel=parts[2], name=parts[2])
    return ChannelRef(platform="console", workspace="local", channel=value, name=value)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice([choice.value for choice in ExportFormat]),
    default=ExportFormat.MARKDOWN.value,
    show_default=True,
)
@click.option(
    "--channel",
    default="console",
    show_default=True,
    help="The channel whose posted papers to export: the console channel's name, or "
    "platform:workspace:channel (slack:T0123:C0456).",
)
@click.option(
    "--query",
    "queries",
    multiple=True,
    metavar="QUERY",
    help="Export the newest papers matching this query instead of a channel's, a heading "
    "each (repeatable); from the local index, else arXiv.",
)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only papers posted since.")
@click.option("--subscription", type=click.IntRange(1), help="Only this subscription's papers.")
@click.option(
    "--rows", type=click.IntRange(1, 1000), help="Papers per heading at most [EXPORT_ROWS]."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the file here instead of printing it.",
)
@verbose_option
def export(
    fmt: str,
    channel: str,
    queries: tuple[str, ...],
    since: datetime | None,
    subscription: int | None,
    rows: int | None,
    output: Path | None,
) -> None:
    """Export posted papers, or a query's newest, as markdown (Daily Papers), BibTeX, CSV
    or JSON, e.g.  arxiv-bot export --query 'ti:"medical imaging"' --output README.md"""
    settings = _settings_or_exit()
    chosen = ExportFormat(fmt)
    limit = rows or settings.export_rows
    if queries and (since or subscription):
        raise _UsageFailure("--since and --subscription are for a channel's export, not --query.")
    try:
        parsed = [parse_query(query_from_argv([query])) for query in queries]
    except UserError as error:
        raise _failure(error) from None

    async def main() -> ExportFile:
        async with BotApp(settings) as app:
            if parsed:
                made, notes = await export_queries(app, parsed, chosen, rows=limit)
                for note in notes:
                    click.echo(note, err=True)
                return made
            return await export_channel(
                app,
                _export_channel(channel),
                chosen,
                rows=limit,
                since=since.date() if since else None,
                subscription=subscription,
            )

    made = _run(main)
    if output is None:
        click.echo(made.file.content.decode(), nl=False)
        return
    output.write_bytes(made.file.content)
    papers = plural(len(made.export.unique_papers()), "paper")
    click.echo(f"Wrote {papers} to {output}.", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    words = sys.argv[1:] if argv is None else list(argv)
    cli.main(args=[_typed_option(word) for word in words], prog_name="arxiv-bot")


def _typed_option(word: str) -> str:
    """``—limit`` (the em-dash a phone or a Mac makes of ``--``) as ``--limit``."""
    name = option_text(word)
    return word if name is None else f"--{name}"
