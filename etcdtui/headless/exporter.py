"""`etcdtui exporter`: the ring engine running for good, its snapshots served to Prometheus.

The same engines as the ring view and `check` (pod/node watches, etcdctl polls through exec, hash
agreement, the log engine's evidence from every member's log) publish snapshots; the `RingCollector` keeps the latest per context and `/metrics` renders
it. SIGTERM/SIGINT stop it cleanly (listener closed, watches cancelled, exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
from typing import TYPE_CHECKING

from etcdtui import exitcodes
from etcdtui.headless.arguments import seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.log_engine import LogEngine
    from etcdtui.engine.ring_engine import RingEngine

DEFAULT_LISTEN = "127.0.0.1:9975"
DEFAULT_INTERVAL = 15.0

EPILOG = """endpoints:
  /metrics   Prometheus metrics of the last snapshot (a scrape never calls the cluster)
  /healthz   200 while the process runs
  /readyz    200 while the data is younger than 3 poll intervals, else 503 with the reason

examples:
  etcdtui exporter                                  # 127.0.0.1:9975, the current context
  etcdtui exporter --context prod --interval 30
  etcdtui exporter --all-contexts                   # every context of the kubeconfig (fleet.contexts narrows)
  etcdtui exporter --context east --context west    # one engine per context, a `context` label on every series
  etcdtui exporter --listen 0.0.0.0:9975            # in a pod (in-cluster config when no kubeconfig)

exit codes: 0 stopped by SIGTERM/SIGINT; 3 could not start (bad kubeconfig, unknown context, port taken).
With several contexts, one that cannot be opened is served as check_success 0 with its reason instead.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "exporter",
        help="serve the ring's metrics to Prometheus continuously (/metrics, /healthz, /readyz)",
        description="Run the ring engine continuously and serve its latest snapshot as Prometheus metrics. "
        "Alert rules: deploy/prometheus/etcdtui.rules.yaml; docs/exporter.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--listen", metavar="ADDR:PORT", type=listen_address, default=listen_address(DEFAULT_LISTEN),
                        help=f"address to serve on (default {DEFAULT_LISTEN}; 0.0.0.0 only when you mean it)")
    parser.add_argument("--kubeconfig", metavar="K", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, "
                        "then in-cluster)")
    parser.add_argument("--context", metavar="C", action="append", default=[],
                        help="kubeconfig context; repeat for several (default: the current context)")
    parser.add_argument("--all-contexts", action="store_true",
                        help="every context of the kubeconfig (narrowed by fleet.contexts in config.yaml)")
    parser.add_argument("--namespace", metavar="NS", default="kube-system", help="namespace of the etcd pods")
    parser.add_argument("--selector", metavar="S", default="component=etcd", help="label selector of the etcd pods")
    parser.add_argument("--interval", metavar="S", type=seconds(1, 3600), default=DEFAULT_INTERVAL,
                        help=f"seconds between etcdctl polls (default {DEFAULT_INTERVAL:g})")
    parser.add_argument("--no-logs", dest="logs", action="store_false",
                        help="do not stream the etcd pods' logs (no log evidence; RBAC then needs no pods/log)")
    parser.set_defaults(handler=run)


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not ADDR:PORT with an IP address: {text!r}") from None
    if not sep or not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not ADDR:PORT: {text!r}")
    return host, port



def _error(message: str) -> int:
    sys.stderr.write(f"etcdtui exporter: {message}\n")
    return exitcodes.UNKNOWN


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.CRITICAL)  # library loggers must not print tracebacks
    from etcdtui.cluster.kube import ClusterError

    try:
        return asyncio.run(_serve(args))
    except ClusterError as exc:
        return _error(exc.message)
    except OSError as exc:  # the listener: port taken, address not on this host
        return _error(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror or exc}")


async def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from etcdtui.cluster.kube import ClusterConnection, ClusterError
    from etcdtui.engine.ring_engine import RingEngine
    from etcdtui.headless.exporter_server import build_app
    from etcdtui.headless.ring_metrics import RingCollector

    contexts = _contexts(args)
    collector = RingCollector()
    conns: list[ClusterConnection] = []
    engines: list[RingEngine] = []
    log_engines: list[LogEngine] = []
    try:
        for context in contexts:
            try:
                conn = await ClusterConnection.open(args.kubeconfig, context)
            except ClusterError as exc:
                if len(contexts) == 1:
                    raise  # one context: a bad kubeconfig is a start-up error (exit 3)
                collector.fail(context or "", exc.message)  # several: served as check_success 0, the rest run
                sys.stderr.write(f"etcdtui exporter: context {context}: {exc.message}\n")
                continue
            conns.append(conn)
            engine = RingEngine(conn, namespace=args.namespace, selector=args.selector,
                                poll_interval=args.interval, exec_timeout=min(10.0, args.interval))
            engine.on_update(lambda snap: collector.update(snap, args.interval))
            engines.append(engine)
            if args.logs:
                logs = _log_engine(conn, engine, args)
                log_engines.append(logs)
                collector.watch_logs(conn.context, _kind_counts(logs))

        app = build_app(collector, lambda: _data_ages(engines), args.interval)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host, port = args.listen
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
            bound = _bound_port(runner) or port
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            stagger = min(0.25, args.interval / max(1, len(engines)))  # first polls spread, not all at once
            for e in engines:
                await e.start()
                await asyncio.sleep(stagger if len(engines) > 1 else 0)
            for logs in log_engines:
                await logs.start()
            names = ", ".join(c.context for c in conns) or "none"
            sys.stderr.write(f"etcdtui exporter: serving http://{_show_host(host)}:{bound}/metrics "
                             f"for context{'s' if len(conns) != 1 else ''} {names} every {args.interval:g}s\n")
            sys.stderr.flush()
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        for logs in log_engines:
            await logs.stop()
        for e in engines:
            await e.stop()
        for conn in conns:
            await conn.close()
    sys.stderr.write("etcdtui exporter: stopped\n")
    return exitcodes.OK


def _kind_counts(logs: LogEngine) -> Callable[[], Mapping[tuple[str, str], int]]:
    """The log findings counter of one context's log engine (bound here: one closure per engine)."""
    return lambda: logs.store.kind_counts


def _contexts(args: argparse.Namespace) -> list[str | None]:
    """The contexts to watch: repeated --context, --all-contexts (fleet.contexts narrows), else the current one."""
    if not args.all_contexts:
        return list(dict.fromkeys(args.context)) or [None]
    from etcdtui.cluster.kube import ClusterError, ErrorKind, kubeconfig_contexts
    from etcdtui.engine.fleet_config import FleetConfigError, load_fleet_settings, select_contexts

    try:
        patterns = load_fleet_settings().contexts
    except FleetConfigError as exc:
        raise ClusterError(ErrorKind.BAD_KUBECONFIG, str(exc)) from None
    available = kubeconfig_contexts(args.kubeconfig)
    chosen = select_contexts(available, patterns) if patterns else available
    if not chosen:
        raise ClusterError(ErrorKind.UNKNOWN_CONTEXT, "no context to watch (the kubeconfig has none, or none matches fleet.contexts)")
    return list(chosen)


# The exporter keeps only recent lines (the findings and their counts survive eviction): bounded memory.
LOG_MAX_LINES = 20_000
LOG_MAX_BYTES = 8 * 1024 * 1024


def _log_engine(conn: ClusterConnection, engine: RingEngine, args: argparse.Namespace) -> LogEngine:
    """The log engine of the ring view: every member's log classified, corruption evidence into the ring."""
    from etcdtui.core.logstore import LogStore
    from etcdtui.engine.log_engine import LogEngine

    store = LogStore(max_lines=LOG_MAX_LINES, max_bytes=LOG_MAX_BYTES)
    return LogEngine(conn, namespace=args.namespace, selector=args.selector, ring=engine, store=store)


def _data_ages(engines: list[RingEngine]) -> dict[str, float | None]:
    import time

    ages: dict[str, float | None] = {}
    for e in engines:
        snap = e.latest
        at = snap.last_poll_at if snap is not None else None
        ages[e.conn.context] = None if at is None else max(0.0, time.time() - at.timestamp())
    return ages


def _bound_port(runner: object) -> int | None:
    with contextlib.suppress(Exception):
        for address in runner.addresses:  # type: ignore[attr-defined]
            return int(address[1])
    return None


def _show_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
