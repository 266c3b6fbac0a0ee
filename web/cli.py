"""The `discovery` command: thin wrappers over the indexer, the search service and the web app.

Every command takes `--json`; errors are one readable line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from indexer.sources import FORMATS
from models.settings import Settings
from web import shapes

EXIT_USAGE, EXIT_ERROR = 2, 1


class CliError(Exception):
    """A failure the user can act on; printed as one line."""


def emit(data, as_json: bool, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


@contextmanager
def progress_bars(enabled: bool) -> Iterator:
    """A `progress(stage, done, total)` callback drawing one tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if not enabled:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="item", file=sys.stderr, leave=True)
        bar.total = max(total, done)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def _catalog(settings: Settings):
    from indexer.catalog import Catalog

    return Catalog(settings.catalog_path)


def _service(settings: Settings):
    from search.engines import open_engine
    from search.service import Discovery

    return Discovery(open_engine(settings), settings.embedder())


# -- commands ----------------------------------------------------------------------------------


class JobSink:
    """Where a command run as an admin job (`--job ID`) reports progress and its result."""

    def __init__(self, store=None, job_id: int | None = None):
        self.store, self.job_id, self.result = store, job_id, {}
        self._last = 0.0

    def progress(self, progress: dict) -> None:
        if self.store and time.monotonic() - self._last > 0.5:  # a few writes a second at most
            self._last = time.monotonic()
            self.store.report(self.job_id, progress)


@contextmanager
def job_reporting(args, settings: Settings) -> Iterator[JobSink]:
    """With `--job ID` (set when the admin area launched us), mirror progress and outcome into the
    job's row; without it, a sink that drops everything."""
    job_id = getattr(args, "job", None)
    if job_id is None:
        yield JobSink()
        return
    from indexer.jobs import JobStore

    catalog = _catalog(settings)
    store = JobStore(catalog, settings.data_dir)
    store.mark_running(job_id)
    store.report(job_id, {"stage": "start"})  # the admin page names a stage from the first second
    sink = JobSink(store, job_id)
    try:
        yield sink
    except BaseException as exc:
        store.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    else:
        store.finish(job_id, sink.result)
    finally:
        catalog.close()


def cmd_ingest(args, settings: Settings) -> int:
    from indexer.ingest import ingest

    paths = [Path(p) for p in args.paths]
    done: dict[str, int] = {}

    with job_reporting(args, settings) as job, _catalog(settings) as catalog, \
            progress_bars(not args.json and args.job is None) as progress:

        def advance(file: str, records: int, counts: dict[str, int]) -> None:
            done[file] = done.get(file, 0) + records
            progress(f"ingest {Path(file).name}", done[file], done[file])
            job.progress({"stage": "ingest", "file": file, **counts})

        started = time.perf_counter()
        report = ingest(catalog, paths, args.format, advance)
        seconds = time.perf_counter() - started
        data = {**report.counts(), "seconds": round(seconds, 2), "files": report.files,
                "rejections": [{"file": r.file, "line": r.line, "reason": r.reason} for r in report.rejections]}
        job.result = data
    lines = [f"read {report.read} = added {report.added} + updated {report.updated} + unchanged "
             f"{report.unchanged} + rejected {report.rejected}  ({seconds:.1f}s)"]
    lines += [f"  rejected {r}" for r in report.rejections]
    emit(data, args.json, "\n".join(lines))
    return 0


def cmd_reindex(args, settings: Settings) -> int:
    from indexer.jobs import exclusive_index_lock
    from indexer.pipeline import index
    from search.engines import open_engine

    with job_reporting(args, settings) as job, exclusive_index_lock(settings.data_dir):
        engine = open_engine(settings)
        try:
            with _catalog(settings) as catalog, progress_bars(not args.json and args.job is None) as progress:
                if catalog.count_works() == 0:
                    raise CliError("the catalog is empty: run `discovery ingest FILE...` first")

                def both(stage: str, done: int, total: int) -> None:
                    progress(stage, done, total)
                    job.progress({"stage": stage, "done": done, "total": total})

                # Owners' choices (works excluded from their expertise) apply to every build.
                from models.accounts import AccountsUnavailable, expertise_exclusions

                try:
                    exclusions = expertise_exclusions(settings.accounts_database_url)
                except AccountsUnavailable as exc:
                    raise CliError(f"{exc}; check DISCOVERY_DATABASE_URL (a reindex without them would "
                                   "undo owners' exclusions)") from None
                report = index(catalog, engine, settings.embedder(), both, full=args.full, exclusions=exclusions)
        finally:
            engine.close()
        data = {"works": report.works, "embedded": report.embedded, "reused_vectors": report.reused_vectors,
                "researchers": report.researchers, "topics": report.topics, "full": args.full,
                "incremental": report.incremental, "why_full": report.why_full, "written": report.written,
                "excluded_works": sum(len(w) for w in exclusions.values()),
                "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
                "version": report.info.version if report.info else None, "engine": settings.engine,
                "skipped": [{"id": work_id, "reason": reason} for work_id, reason in report.skipped]}
        job.result = data
    emit(data, args.json,
         f"indexed {report.works} works ({report.embedded} embedded, {report.reused_vectors} from cache), "
         f"{report.researchers} researchers, {report.topics} topics -> {settings.engine} version "
         f"{data['version']} in {report.seconds.get('total', 0):.1f}s"
         + (f" (incremental: {report.changed_works} works changed, documents written {report.written})"
            if report.incremental else f" (full: {report.why_full})")
         + "".join(f"\n  skipped {work_id}: {reason}" for work_id, reason in report.skipped))
    return 0


def cmd_rollback(args, settings: Settings) -> int:
    from indexer.jobs import exclusive_index_lock
    from search.engines import open_engine

    with job_reporting(args, settings) as job, exclusive_index_lock(settings.data_dir):
        engine = open_engine(settings)
        try:
            info = engine.rollback()
        finally:
            engine.close()
        from indexer.status import info_dict

        data = info_dict(info)
        job.result = data
    emit(data, args.json, f"rolled back: {settings.engine} version {info.version} (built {info.built_at}) is live")
    return 0


def cmd_status(args, settings: Settings) -> int:
    from indexer.status import status, status_text

    data = status(settings)
    emit(data, args.json, status_text(data))
    return 0


def cmd_stats(args, settings: Settings) -> int:
    with _catalog(settings) as catalog:
        data = catalog.stats()
    last = data["last_index"] or {}
    emit(data, args.json,
         f"works: {data['works']} {data['works_by_source']}\n"
         f"cached vectors: {data['cached_vectors']}\nrejected lines (all runs): {data['rejected_lines']}\n"
         f"last index: {last.get('finished_at', 'never')} ({last.get('researchers', 0)} researchers, "
         f"{last.get('topics', 0)} topics)\nnot yet indexed: {data['not_yet_indexed']}")
    return 0


def cmd_show(args, settings: Settings) -> int:
    service = _service(settings)
    try:
        if args.kind == "researcher":
            researcher = service.find_researcher(args.name)
            data = shapes.profile(service.researcher_profile(researcher.id))
            text = shapes.profile_text(data)
        elif args.kind == "work":
            data = shapes.work_page(service.work_page(args.name))
            text = f"{data['work']['title']} ({data['work']['year']}) {data['work']['venue'] or ''}"
        else:
            topic_id = args.name if args.name.startswith("t-") else service.search_topics(args.name, 1)[0].topic.id
            data = shapes.topic_page(service.topic_page(topic_id))
            text = f"{data['topic']['label']}: {data['topic']['works_count']} works"
    finally:
        service.engine.close()
    emit(data, args.json, text)
    return 0


def _filters(pairs: list[str]):
    from search.interface import WorkFilters

    values: dict[str, list[str]] = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise CliError(f"--filter expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        values.setdefault(key.strip(), []).append(value.strip())
    return shapes.filters_from(values, WorkFilters)


def cmd_search(args, settings: Settings) -> int:
    service = _service(settings)
    try:
        results = service.search_works(args.query, mode=args.mode, fusion=args.fusion, filters=_filters(args.filter),
                                       page=args.page, per_page=args.per_page)
    finally:
        service.engine.close()
    data = shapes.work_results(results)
    lines = [f"{data['total']} works ({results.mode})"]
    for i, hit in enumerate(data["hits"], start=(results.page - 1) * results.per_page + 1):
        lines.append(f"{i:>3}. {hit['title']} ({hit['year']}, {hit['venue'] or '-'}) [{hit['id']}]")
        if args.explain:
            s = hit["scores"]
            lines.append(f"      fused {s['fused']:.4f}  keyword {s['keyword']}  vector {s['vector']}")
    emit(data, args.json, "\n".join(lines))
    return 0


def cmd_people(args, settings: Settings) -> int:
    service = _service(settings)
    try:
        results = service.search_people(args.query, limit=args.limit)
    finally:
        service.engine.close()
    data = shapes.people_results(results)
    lines = [f"{h['name']} [{h['id']}] {h['works_count']} works, matched by {h['matched_by']}" for h in data["hits"]]
    emit(data, args.json, "\n".join(lines) or "no researchers found")
    return 0


def cmd_similar(args, settings: Settings) -> int:
    service = _service(settings)
    try:
        researcher = service.find_researcher(args.name)
        suggestions = service.similar_researchers(researcher.id, mode=args.mode, limit=args.limit,
                                                  active_since=args.active_since, institution=args.institution)
    finally:
        service.engine.close()
    data = shapes.suggestions(suggestions)
    lines = [f"{'New collaborators' if args.mode == 'collaborators' else 'Similar researchers'} for {researcher.name}:"]
    for h in data["hits"]:
        lines.append(f"  {h['similarity']:.3f} {h['name']} [{h['id']}] shared topics: {', '.join(h['shared_topics'][:3]) or '-'}")
        for pair in h["paper_pairs"][:1]:
            lines.append(f"        \u201c{pair['theirs']['title']}\u201d \u2194 \u201c{pair['yours']['title']}\u201d ({pair['similarity']:.2f})")
    emit(data, args.json, "\n".join(lines))
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from web.app import create_app

    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port,
                                           "workers": args.workers or settings.workers})
    print(f"Discovery on http://{settings.host}:{settings.port}/  (engine: {settings.engine}, data: {settings.data_dir}, "
          f"workers: {settings.workers})")
    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
        return 0
    # Generated secrets are created once here, or each worker would write its own admin token and key.
    from models.accounts.auth import Accounts
    from web.routes.admin import announce_admin_token

    announce_admin_token(settings)
    _ = Accounts(settings).secret
    # Each worker is a process of its own that builds the app from the environment: hand it these settings.
    os.environ.update({f"DISCOVERY_{name.upper()}": str(value)
                       for name, value in settings.model_dump().items() if value is not None})
    uvicorn.run("web.cli:app_from_environment", factory=True, workers=settings.workers,
                host=settings.host, port=settings.port, log_level="info")
    return 0


def app_from_environment():
    """The app of one `serve --workers N` process, from the DISCOVERY_* variables its parent set."""
    from web.app import create_app

    return create_app(Settings())


def cmd_demo(args, settings: Settings) -> int:
    from web.demo import prepare_demo

    settings = prepare_demo(settings, progress_enabled=True)
    return cmd_serve(args, settings)


def cmd_eval(args, settings: Settings) -> int:
    """`eval [cacm|cisi|PATH...]`, `eval collaborators|expertise|names|identity`: measurements in evaluation/."""
    from evaluation.scratch import default_vector_cache

    cache = Path(args.vector_cache) if args.vector_cache else default_vector_cache(settings)
    scratch = Path(args.scratch) if args.scratch else None
    common = {"vector_cache": cache, "scratch_dir": scratch}
    target = args.target[0] if args.target else None
    with progress_bars(not args.json) as progress:
        if target == "collaborators":
            from evaluation.collaborators import (DEFAULT_SPLIT_YEAR, DEFAULT_VALIDATION_YEAR, ML_VENUES,
                                                  evaluate_collaborators)

            result = evaluate_collaborators([Path(c) for c in args.corpus or [ML_VENUES]], settings,
                                            split_year=args.split_year or DEFAULT_SPLIT_YEAR,
                                            validation_year=args.validation_year or DEFAULT_VALIDATION_YEAR,
                                            sample=args.sample or 1000, progress=progress, **common)
        elif target == "expertise":
            from evaluation.expertise import ML_VENUES, evaluate_expertise

            result = evaluate_expertise([Path(c) for c in args.corpus or [ML_VENUES]], settings,
                                        sample=args.sample or 300, progress=progress, split=args.split, **common)
        elif target == "topics":
            from evaluation.topics import ARXIV_SAMPLE, ML_VENUES, OPENALEX_SAMPLE, SEED, evaluate_topics

            result = evaluate_topics([Path(c) for c in args.corpus or [OPENALEX_SAMPLE, ML_VENUES]], settings,
                                     context=[ARXIV_SAMPLE, SEED], vector_cache=cache, progress=progress,
                                     split=args.split)
        elif target == "names":
            from evaluation.collaborators import ML_VENUES
            from evaluation.names import evaluate_names

            result = evaluate_names([Path(c) for c in args.corpus or [ML_VENUES]], settings,
                                    sample=args.sample or 500, progress=progress, **common)
        elif target == "identity":
            from evaluation.collaborators import ML_VENUES
            from evaluation.identity import evaluate_identity

            result = evaluate_identity([Path(c) for c in args.corpus or [ML_VENUES]], settings, progress=progress,
                                       split=args.split, **common)
        else:
            from evaluation.relevance import evaluate_collections

            result = evaluate_collections(args.target, settings, args.engine or (), args.subset, progress=progress, **common)
            emit(result.to_dict(args.per_query), args.json, result.table(per_query=args.per_query))
            return 0
    emit(result.to_dict(), args.json, result.table())
    return 0


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="discovery", description="Search works, researchers and topics.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=handler)
        return p

    p = command("ingest", cmd_ingest, "read OpenAlex / arXiv JSON-lines files into the catalog")
    p.add_argument("paths", nargs="+")
    p.add_argument("--format", choices=list(FORMATS), help="skip format detection")
    p.add_argument("--job", type=int, help=argparse.SUPPRESS)

    for name in ("index", "reindex"):
        p = command(name, cmd_reindex, "embed new works, resolve researchers and topics, build and switch to a new index version")
        p.add_argument("--full", action="store_true", help="embed every work again instead of reusing cached vectors")
        p.add_argument("--job", type=int, help=argparse.SUPPRESS)
    p = command("rollback", cmd_rollback, "make the previous index version live again")
    p.add_argument("--job", type=int, help=argparse.SUPPRESS)
    command("status", cmd_status, "live index version, index lag, running and recent jobs")
    command("stats", cmd_stats, "catalog counts and index lag")

    p = command("show", cmd_show, "show a researcher, work or topic by name or id")
    p.add_argument("kind", choices=["researcher", "work", "topic"])
    p.add_argument("name")

    p = command("search", cmd_search, "search works")
    p.add_argument("query")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "keyword", "semantic"])
    p.add_argument("--fusion", default="rrf", choices=["rrf", "weighted"])
    p.add_argument("--filter", action="append", metavar="KEY=VALUE",
                   help="year_from, year_to, type, venue, topic, researcher (repeatable)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--per-page", type=int, default=10)
    p.add_argument("--explain", action="store_true", help="show keyword, vector and fused scores")

    p = command("people", cmd_people, "find researchers by name, ORCID or expertise")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)

    p = command("similar", cmd_similar, "similar researchers, or new collaborators")
    p.add_argument("name")
    p.add_argument("--mode", default="similar", choices=["similar", "collaborators"])
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--active-since", type=int)
    p.add_argument("--institution")

    p = command("eval", cmd_eval, "measure relevance on judged collections (default: cacm and cisi; or PATHs), "
                "collaborator recommendation (collaborators), expertise ranking (expertise), people search on "
                "name variants (names), identity resolution with source ids hidden (identity) or topics against "
                "held-out source labels (topics)")
    p.add_argument("target", nargs="*", metavar="cacm|cisi|PATH|collaborators|expertise|names|identity|topics")
    p.add_argument("--engine", action="append", choices=["embedded", "opensearch"],
                   help="relevance: engine to evaluate (repeatable; default: the configured one)")
    p.add_argument("--per-query", action="store_true", help="relevance: also print each query's scores")
    p.add_argument("--subset", type=int, metavar="DOCS", help="relevance: evaluate on about this many documents")
    p.add_argument("--corpus", action="append", metavar="FILE",
                   help="collaborators/names/identity: corpus file; topics: corpus whose labels are hidden (repeatable)")
    p.add_argument("--split-year", type=int, metavar="T", help="collaborators: history is up to and including T")
    p.add_argument("--validation-year", type=int, metavar="V",
                   help="collaborators: the blend is chosen on history up to V, pairs formed up to T")
    p.add_argument("--sample", type=int, metavar="N", help="collaborators/names: researchers evaluated")
    p.add_argument("--split", default="test", choices=["test", "dev", "all"],
                   help="identity/topics/expertise: score held-out test names or works (default), the dev ones the rules "
                        "were tuned on, or all")
    p.add_argument("--vector-cache", metavar="FILE", help="vector cache (default: DATA_DIR/vector-cache.sqlite)")
    p.add_argument("--scratch", metavar="DIR", help="keep the scratch catalog and index here")

    for name, handler, text in (("serve", cmd_serve, "serve the current index over HTTP"),
                                ("demo", cmd_demo, "ingest and index the bundled demo corpus, then serve it")):
        p = command(name, handler, text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        p.add_argument("--workers", type=int, choices=range(1, 65), metavar="N",
                       help="processes serving requests (default DISCOVERY_WORKERS, 1); they share the data directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    from search.interface import SearchError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        return args.handler(args, settings)
    except (CliError, SearchError) as exc:
        print(f"discovery: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into one line
        from indexer.sources import SourceError
        from models.embedding import ModelUnavailable

        if isinstance(exc, (SourceError, ModelUnavailable, OSError, ValueError)):
            print(f"discovery: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise
    except KeyboardInterrupt:
        print("discovery: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
