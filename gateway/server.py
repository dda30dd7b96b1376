"""The HTTP servers that run the site, and the sandbox population register's process.

Production runs gunicorn, prefork: NVS_WORKERS processes (the number of cores by default), each
with NVS_THREADS threads (gthread workers), so the gateway uses every core rather than one GIL's
worth. waitress (one process) stays for development (``--server waitress``) and for the tests'
in-process gateways. Every worker builds its own site after the fork, so no database connection,
thread or lock crosses a fork; what workers must agree on lives in the database (README,
"Running several processes").

The sandbox population register (``serve --sandbox``) runs in a process of its own, so that the
gateway never spends its own GIL's time answering itself; the site's ``/population-register``
forwards to it, so integrators find it where they always did.
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy.pool import NullPool

from gateway.config import Settings
from gateway.logs import gunicorn_logconfig

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("nvs.server")

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
SERVERS = ("gunicorn", "waitress")


def describe(settings: Settings) -> str:
    if settings.server == "gunicorn":
        return f"gunicorn, {settings.worker_count} worker processes x {settings.threads} threads"
    return f"waitress, 1 process x {settings.threads} threads"


def check_serving_settings(settings: Settings) -> None:
    """Refuse settings that would cut requests short or make no sense, before anything starts."""
    if settings.server not in SERVERS:
        raise ValueError(f"NVS_SERVER must be one of {', '.join(SERVERS)}, not {settings.server!r}")
    if settings.workers < 0 or settings.threads < 1:
        raise ValueError("NVS_WORKERS must be 0 (the number of cores) or more, and NVS_THREADS at least 1")
    bound = settings.population_register_bound
    if settings.graceful_timeout <= bound:
        raise ValueError(
            f"NVS_GRACEFUL_TIMEOUT ({settings.graceful_timeout:g} s) must exceed the longest wait on the population "
            f"register ({bound:g} s), or a restart would cut off requests still waiting for GR"
        )


def serve_wsgi(load: Callable[[], WsgiApp], settings: Settings, *, name: str = "nvs-gateway") -> int:
    """Serve the app that ``load()`` builds until Ctrl+C or SIGTERM. gunicorn calls ``load`` in each
    worker after the fork; waitress once, here."""
    check_serving_settings(settings)
    load = _warmed(load)
    metrics_server = start_metrics_server(settings) if settings.metrics_port else None
    try:
        return _serve(load, settings, name)
    finally:
        if metrics_server is not None:
            metrics_server.close()


def _serve(load: Callable[[], WsgiApp], settings: Settings, name: str) -> int:
    if settings.server == "waitress":
        from gateway.http import create_server

        server = create_server(
            load(),
            max_request_bytes=settings.max_request_bytes,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            ident=name,
        )
        server.print_listen("Serving on http://{}:{}")
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        return 0
    _run_gunicorn(load, settings, name)
    return 0


def gunicorn_options(settings: Settings, name: str = "nvs-gateway") -> dict[str, object]:
    """gunicorn's settings for ours: what ``nvs-gateway serve`` runs with, and what deploy/gunicorn.conf.py
    gives a ``gunicorn -c`` of an operator's own (one truth, the NVS_* settings)."""
    timeout = int(settings.graceful_timeout + 0.999)
    return {
        "bind": [f"{settings.host}:{settings.port}"],
        "workers": settings.worker_count,
        "worker_class": "gateway.gunicorn_worker.SoapThreadWorker",  # gthread, refusing with SOAP faults
        "threads": settings.threads,
        # A worker is stopped or restarted only once its requests had the time to finish,
        # the population register's longest wait included (check_serving_settings).
        "graceful_timeout": timeout,
        "timeout": timeout,
        "keepalive": 5,
        "proc_name": name,
        "loglevel": settings.log_level.lower(),
        "accesslog": None,  # the access log that matters is the register's own
        "preload_app": False,  # each worker builds its site after the fork
        "control_socket_disable": True,  # one per user by default: two servers would share it
        "post_fork": _ignore_interrupts,
        "child_exit": _forget_dead_worker,
        # gunicorn's own lines in the gateway's format (NVS_LOG_FORMAT), beside the gateway's.
        "logconfig_dict": gunicorn_logconfig(settings.log_level, settings.log_format or "json"),
        # forwarded_allow_ips is left to gunicorn: FORWARDED_ALLOW_IPS in the environment, else loopback only,
        # so X-Forwarded-Proto is believed from the TLS proxy alone (deploy/, docs/operations.md).
    }


def _ignore_interrupts(_arbiter: object, _worker: object) -> None:
    # Ctrl+C reaches every process of the terminal's group. A worker leaves it to the
    # master (blocked, not handled: gunicorn's own handler would stop a worker abruptly, even
    # mid-start), which stops the workers gracefully, as on SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _forget_dead_worker(_arbiter: object, worker: Any) -> None:
    # A dead worker's counters still count; its gauges of live processes (connections in use) do not.
    from gateway.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def _run_gunicorn(load: Callable[[], WsgiApp], settings: Settings, name: str) -> None:
    """gunicorn configured from our settings, not from its command line or a config file."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    class GracefulOnInterrupt(Arbiter):
        def handle_int(self) -> None:
            self.handle_term()

    options = gunicorn_options(settings, name)

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WsgiApp:
            return load()

        def run(self) -> None:
            GracefulOnInterrupt(self).run()

    Application().run()


def run_waitress(server: Any) -> None:
    """A waitress server's loop in a thread of its own; a descriptor closed under it by ``stop_waitress`` ends it
    quietly."""
    try:
        server.run()
    except OSError:
        if not getattr(server, "stopping", False):
            raise


def stop_waitress(server: Any, thread: threading.Thread) -> bool:
    """Stop a server ``run_waitress`` runs: drain its worker threads, then close every channel from inside the
    server's own loop (a trigger thunk): closed from this thread, a descriptor could vanish under the loop's
    poll() (EBADF in the server's thread). The loop ends once its map is empty: whether it did in 5 s."""
    server.stopping = True
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def close_every_channel() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_every_channel)
    except OSError:  # the trigger is closed already: the loop has stopped, so close them from here
        close_every_channel()
    thread.join(timeout=5)
    return not thread.is_alive()


class MetricsServer:
    """``/metrics`` on a port of its own (NVS_METRICS_PORT), served by this process in a thread: under gunicorn the
    master, which reads every worker's counts from the multiprocess directory and the database at scrape time
    (on connections of its own, none kept: NullPool, so no connection is inherited by the workers it forks)."""

    def __init__(self, settings: Settings) -> None:
        import waitress.server

        from gateway.clock import clock_for
        from gateway.metrics import DatabaseCollector, StaticCollector, metrics_app
        from storage.db import make_engine

        self.engine = make_engine(settings.database_url, pool_class=NullPool)
        app = metrics_app(
            DatabaseCollector(self.engine, clock_for(settings).now), StaticCollector(settings.access_log_retention_days)
        )
        self.server = waitress.server.create_server(
            app, host=settings.host, port=settings.metrics_port, threads=2, ident="nvs-metrics"
        )
        self.pid = os.getpid()
        self.thread = threading.Thread(target=run_waitress, args=(self.server,), name="metrics", daemon=True)
        self.thread.start()
        log.info("metrics on http://%s:%s/metrics", settings.host, settings.metrics_port)

    def close(self) -> None:
        if os.getpid() != self.pid:
            return  # a gunicorn worker leaving serve_wsgi: it inherited the server, not the thread that runs it
        if not stop_waitress(self.server, self.thread):
            log.warning("the metrics server's thread did not stop within 5 s")
        self.engine.dispose()


def start_metrics_server(settings: Settings) -> MetricsServer:
    return MetricsServer(settings)


def site_from_environment() -> WsgiApp:
    """One worker's site under ``gunicorn -c deploy/gunicorn.conf.py`` (its ``wsgi_app``): the registry on the
    NVS_* settings, without the sandbox. The schema is ``nvs-gateway migrate``'s to bring to head, before."""
    from gateway.bootstrap import build_gateway
    from gateway.cli import _configure_logging

    settings = Settings.from_env()
    _configure_logging(settings.log_level, settings.log_format or "json")
    return _warmed(lambda: build_gateway(settings, sandbox=False).site)()


def _warmed(load: Callable[[], WsgiApp]) -> Callable[[], WsgiApp]:
    """``load``, then what a long-running server wants of the interpreter once the site is built.

    Spyne calls ``gc.collect()`` from every request's context once a second (measured: 29% of a
    RegisterStudent's CPU); Python's own generational collector still runs. The objects of
    start-up (modules, schemas, the WSDL) are frozen out of the collector's scans."""

    def load_warmed() -> WsgiApp:
        site = load()
        tune_for_serving()
        return site

    return load_warmed


def tune_for_serving() -> None:
    """No ``gc.collect()`` from Spyne's request contexts; what is loaded so far frozen out of the scans."""
    import gc

    import spyne.const

    spyne.const.MIN_GC_INTERVAL = float("inf")
    gc.collect()
    gc.freeze()


# --- the sandbox population register in a process of its own ----------------------------------
class SandboxPopulationRegister:
    """``nvs-gateway sandbox-gr`` as a child process, on a loopback socket opened here.

    The socket is bound before the child starts, so its port is known at once and no request
    is refused while the child imports. The child stops when it gets SIGTERM, and also when
    this process dies however it dies (its stdin, a pipe from here, reaches its end).
    """

    def __init__(self, settings: Settings) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/population-register"
        environment = {
            **os.environ,
            "NVS_SANDBOX_GR_LATENCY": str(settings.sandbox_gr_latency),
            "NVS_SANDBOX_GR_FAILURE_RATE": str(settings.sandbox_gr_failure_rate),
            "NVS_LOG_LEVEL": settings.log_level,
            "NVS_LOG_FORMAT": settings.log_format,
        }
        fd = self._socket.fileno()
        self._owner = os.getpid()
        # As many threads as the gateway has, so that a slow sandbox GR (NVS_SANDBOX_GR_LATENCY)
        # holds each caller for its latency and no longer.
        threads = max(8, settings.threads * (settings.worker_count if settings.server == "gunicorn" else 1))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "sandbox-gr", "--listen-fd", str(fd), "--threads", str(threads)],
            stdin=subprocess.PIPE,
            pass_fds=(fd,),
            env=environment,
        )

    def stop(self) -> None:
        if os.getpid() != self._owner:
            # A gunicorn worker, forked from the process that started us, leaving through the
            # same stack: the sandbox GR is the master's to stop, not this worker's.
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._socket.close()


def run_sandbox_gr(
    *, listen_fd: int | None, host: str, port: int, threads: int, latency: float, failure_rate: float
) -> int:
    """The sandbox GR alone: on an inherited socket (as ``serve --sandbox``'s child), or on host:port."""
    import waitress.server

    from clients.population_register.sandbox import build_sandbox_app

    app = build_sandbox_app(latency_seconds=latency, failure_rate=failure_rate)
    tune_for_serving()  # as the gateway's workers: Spyne's per-request gc.collect() was a fifth of its CPU
    if listen_fd is not None:
        # A child of `serve`: Ctrl+C in the terminal is the parent's to handle; it stops us
        # with SIGTERM, or by dying, which closes our stdin.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sock = socket.socket(fileno=listen_fd)
        server = waitress.server.create_server(app, sockets=[sock], threads=threads, ident="nvs-sandbox-gr")

        def stop_when_the_parent_goes() -> None:
            # os.read, not sys.stdin: a buffered reader's lock held by this daemon thread would
            # stall the interpreter's shutdown.
            try:
                while os.read(0, 4096):
                    pass
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_when_the_parent_goes, name="parent-watch", daemon=True).start()
    else:
        server = waitress.server.create_server(app, host=host, port=port, threads=threads, ident="nvs-sandbox-gr")
        print(
            f"sandbox population register on http://{host}:{_port_of(server)}/population-register  (Ctrl+C stops it)",
            flush=True,
        )

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    return 0


# --- /population-register on the site's port ---------------------------------------------------
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def _port_of(server: MultiSocketServer | BaseWSGIServer) -> int:
    """The port a waitress server listens on (the first address's, when a host name gave several)."""
    from waitress.server import MultiSocketServer

    if isinstance(server, MultiSocketServer):
        return server.effective_listen[0][1]
    assert server.socket is not None, "a created server listens"
    return int(server.socket.getsockname()[1])


def forward_to(url: str, *, timeout: float = 120.0) -> WsgiApp:
    """A WSGI app that forwards each request to ``url``'s server, path and query unchanged, with
    the caller's Host, so that what that server writes about its own address (a WSDL's
    soap:address) names the address the caller used."""
    target = urllib.parse.urlsplit(url)
    host = target.hostname
    if host is None:
        raise ValueError(f"{url!r} names no host to forward to")
    local = threading.local()

    def connection() -> http.client.HTTPConnection:
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(host, target.port, timeout=timeout)
        return local.connection

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read() if chunked else b""
        headers = {"Host": environ.get("HTTP_HOST", target.netloc)}
        for key, value in environ.items():
            name = key[5:].replace("_", "-").lower()
            if key.startswith("HTTP_") and name != "host" and name not in _HOP_BY_HOP:
                headers[name] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        for attempt in (1, 2):  # a kept-alive connection the other side has closed: once more, on a new one
            try:
                conn = connection()
                conn.request(environ.get("REQUEST_METHOD", "GET"), path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                local.connection.close()
                local.connection = None
                if attempt == 2:
                    message = b"The sandbox population register is not answering.\n"
                    start_response(
                        "502 Bad Gateway",
                        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(message)))],
                    )
                    return [message]
        reply = [
            (k, v)
            for k, v in response.getheaders()
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("content-length", "server", "date")
        ]
        reply.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {response.reason}", reply)
        return [payload]

    return app
