"""`forge board`: serve the read-only web board of this repository's tasks and labs."""

from __future__ import annotations

import errno
import json
import secrets
import webbrowser

import click

from leanforge.cli.common import CONTEXT_SETTINGS, forge_here, json_option

DEFAULT_PORT = 8765


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    envvar="FORGE_BOARD_PORT",
    help="Port to listen on (0 = any free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback requires the printed token.",
)
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@json_option
def board(port: int, host: str, no_open: bool, as_json: bool) -> None:
    """Watch tasks, attempts, reviews and labs in the browser, live. Read-only.

    Serves until Ctrl-C. Bound to 127.0.0.1 by default; with --host 0.0.0.0 a token is
    generated and must be in the URL (the browser then keeps it in a cookie).
    """
    from leanforge.board.server import BoardServer, is_loopback

    forge = forge_here()
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    try:
        server = BoardServer(forge.fork, host, port, token)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is in use; pick another with --port (0 = any free port)"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    if as_json:
        click.echo(json.dumps({"url": server.share_url, "token": token}))
    else:
        click.echo(f"board: {server.share_url}")
        click.secho("· Ctrl-C stops it", err=True, dim=True)
    if not no_open:
        webbrowser.open(server.share_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    click.echo("stopped", err=as_json)
