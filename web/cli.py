"""The ``infolit`` command line: the front door for operators and researchers.

Every command prints one clear line and exits non-zero on a user error; ``infolit --debug ...``
shows the full traceback instead. A command's module is imported only when that command runs
(:class:`web.commands.LazyGroup`), so ``infolit --help`` answers at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from web.commands import LazyGroup, register

__all__ = ["cli", "main"]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="infolit")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """InfoLit: student information-literacy (信息素养) assessment.

    Item bank, adaptive tests, IRT calibration and scoring, regional reports.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


register(cli)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; turn any error into one line on stderr and a non-zero exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="infolit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        if debug:
            raise
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into a line
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
