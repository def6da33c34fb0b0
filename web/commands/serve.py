"""``infolit serve``: run the web app with uvicorn (several workers share one database)."""

from __future__ import annotations

import os
import secrets

import click

from itembank.settings import get_settings
from web import workers as workers_module

__all__ = ["serve_command"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes. All state is in the database, so any worker serves any request; "
    "use PostgreSQL for more than one or two.",
)
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve_command(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the student pages, the JSON API (/api/v1, documented at /schema) and /healthz.

    Set INFOLIT_SECRET_KEY so that sessions survive a restart (and, with --workers, so that every
    worker accepts the others' cookies: without it one random key is made for this run).
    Behind a reverse proxy, set FORWARDED_ALLOW_IPS to its address so that the login throttle sees
    the students' addresses; serve over HTTPS with INFOLIT_SECURE_COOKIES=1.

    SIGTERM stops gracefully (every request in flight is answered). With --workers 2 or more,
    SIGHUP restarts the workers one by one (new code or settings) without closing the listening
    sockets, and a worker that dies is replaced on its socket.
    """
    import uvicorn

    if not os.environ.get("INFOLIT_SECRET_KEY"):
        # one key for every worker of this run (workers are separate processes reading the env)
        os.environ["INFOLIT_SECRET_KEY"] = secrets.token_urlsafe(32)
        click.echo("注意: INFOLIT_SECRET_KEY 未设置，本次运行使用临时密钥（重启后学生需重新登录）。", err=True)
    get_settings.cache_clear()
    settings = get_settings()
    url = settings.database_url
    if settings.is_sqlite and workers > 2:
        click.echo("注意: SQLite 同一时间只允许一个写入者；多进程部署请使用 PostgreSQL。", err=True)
    shown = url.split("@")[-1] if "@" in url else url
    click.echo(f"InfoLit 正在 http://{host}:{port} 提供服务（{workers} 个进程，数据库 {shown}）")
    if workers > 1 and not reload and workers_module.available():
        # each worker listens on a socket of its own, so the kernel spreads connections evenly;
        # the parent holds the sockets, so SIGHUP restarts the workers without closing them
        options = workers_module.WorkerOptions("web.app:create_app", host=host, port=port, factory=True)
        try:
            code = workers_module.serve(options, workers)
        except OSError as exc:
            raise click.ClickException(f"无法在 {host}:{port} 上提供服务：{exc}") from None
        if code:
            raise click.ClickException("工作进程无法启动，详见上方日志。")
        return
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
    )
