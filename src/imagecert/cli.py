"""The `imagecert` command line (see ../shared/specs/interfaces.md and the README)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imagecert import __version__

EXIT_CERTIFIED, EXIT_NOT_CERTIFIED, EXIT_CANNOT_RUN = 0, 1, 2


class CannotRun(Exception):
    """The command could not run (bad flag, bad target file, unreachable endpoint)."""


def _mock(args: argparse.Namespace) -> int:
    from imagecert.provider import server
    from imagecert.provider.defects import all_defects, unknown_defects
    from imagecert.provider.dialect import Settings

    if args.list_defects:
        for defect in all_defects():
            print(f"{defect.id}\t{defect.description}")
        return EXIT_CERTIFIED
    unknown = unknown_defects(args.defect)
    if unknown:
        raise CannotRun(f"unknown defect {', '.join(unknown)} (see imagecert mock --list-defects)")

    def ready(running: server.RunningProvider) -> None:
        print(f"imagecert reference provider on {running.base_url} (control: {running.control_url})", flush=True)
        if args.defect:
            print(f"defects in force: {', '.join(args.defect)}", flush=True)
        for dialect, tenant in running.dev_tenants.items():
            keys = ", ".join(f"{k}={v}" for k, v in tenant.auth.items())
            scope = ", ".join(f"{k}={v}" for k, v in tenant.scope.items())
            print(f"  {dialect:<12} development tenant {tenant.id}: {keys}; {scope}", flush=True)
        if args.emit_targets:
            for dialect, path in running.write_targets(Path(args.emit_targets)).items():
                print(f"  target file for {dialect}: {path}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        server.serve(args.host, args.port, args.defect, Settings(job_seconds=args.job_seconds), on_ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise CannotRun(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    return EXIT_CERTIFIED


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="imagecert",
        description="Certify a cloud API that makes an image from a server against its documents.",
    )
    top.add_argument("--version", action="version", version=f"imagecert {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    mock = commands.add_parser("mock", help="run the reference provider in the foreground")
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    mock.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free port)")
    mock.add_argument("--defect", action="append", default=[], metavar="ID",
                      help="break one documented rule on purpose (repeatable; see --list-defects)")
    mock.add_argument("--list-defects", action="store_true", help="list every defect and exit")
    mock.add_argument("--emit-targets", metavar="DIR", help="write one target file per dialect into DIR")
    mock.add_argument("--job-seconds", type=float, default=2.0, metavar="S",
                      help="how long an asynchronous job runs before it ends by itself (default 2)")
    mock.set_defaults(run=_mock)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except CannotRun as error:
        print(f"imagecert: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
