"""The `imagecert` command line (see ../shared/specs/interfaces.md and the README)."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from pathlib import Path

from imagecert import __version__
from imagecert.certify import (EXIT_CANNOT_RUN, EXIT_CERTIFIED, EXIT_INTERRUPTED, EXIT_NOT_CERTIFIED, EXIT_STATUSES,
                               CannotRun, Interrupted)


def _certify(args: argparse.Namespace) -> int:
    from imagecert.certify import certify

    return certify(args)


def _merge(args: argparse.Namespace) -> int:
    from imagecert.report import DifferentTargets, merge

    missing = [d for d in args.dirs if not Path(d).is_dir()]
    if missing:
        raise CannotRun(f"no such report folder: {', '.join(missing)}")
    try:
        written = merge([Path(d) for d in args.dirs], Path(args.out), args.allow_different_targets)
    except DifferentTargets as error:
        raise CannotRun(str(error)) from None
    if not written:
        raise CannotRun(f"no <dialect>/compliance.json under {', '.join(args.dirs)}")
    for dialect, path in sorted(written.items()):
        print(f"{dialect}: {path}")
    return EXIT_CERTIFIED


def _replay(args: argparse.Namespace) -> int:
    from imagecert.certify import check_targets
    from imagecert.replay import replay

    if not Path(args.cassettes).is_dir():
        raise CannotRun(f"no such cassette folder: {args.cassettes}")
    (target,) = check_targets([args.target], [])  # a bad file or an unreachable endpoint: exit 2
    results = replay(Path(args.cassettes), target, Path(args.report_dir))
    if not results:
        raise CannotRun(f"no cassette of {target.dialect} under {args.cassettes}")
    if all(r.not_replayable for r in results):
        raise CannotRun(f"no cassette could be replayed against {target.name}: {results[0].not_replayable}")
    return EXIT_NOT_CERTIFIED if any(r.differences for r in results) else EXIT_CERTIFIED


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
        server.serve(args.host, args.port, args.defect,
                     Settings(job_seconds=args.job_seconds, control_outline=args.control == "outline"),
                     on_ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise CannotRun(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    return EXIT_CERTIFIED


REPLAY_EXIT_STATUSES = f"""exit status:
  {EXIT_CERTIFIED}    no answer differs in a way that breaks a rule
  {EXIT_NOT_CERTIFIED}    some answer differs (each is printed and listed in replay.json)
  {EXIT_CANNOT_RUN}    could not run (no such cassette folder, bad target file, unreachable endpoint)"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="imagecert",
        description="Certify a cloud API that makes an image from a server against its documents.",
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"imagecert {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    certify = commands.add_parser("certify", help="certify targets (default: the embedded reference provider)",
                                  epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    certify.add_argument("--target", action="append", default=[], metavar="FILE",
                         help="target file of an endpoint to certify (repeatable, one per dialect)")
    certify.add_argument("--dialect", action="append", default=[], metavar="ID",
                         help="certify only this dialect (repeatable)")
    certify.add_argument("--constraint", action="append", default=[], metavar="ID",
                         help="run only the tests of this rule (repeatable); the report says what was not verified")
    certify.add_argument("--report-dir", default="reports", metavar="DIR",
                         help="where compliance reports are written (default reports/)")
    certify.add_argument("--fuzz-examples", type=int, default=None, metavar="N",
                         help="examples per fuzzed operation (default: the CI budget)")
    certify.add_argument("--seed", type=int, default=None, metavar="N", help="hypothesis seed, to reproduce a run")
    certify.add_argument("-n", dest="workers", default=None, metavar="WORKERS",
                         help="run the suites in parallel (pytest-xdist), e.g. -n 2 or -n auto")
    certify.add_argument("--profile", choices=("core", "strict"), default=None,
                         help="certification profile (default core; see contracts/profiles.yaml)")
    certify.add_argument("--ims-document", choices=("zh", "en"), default=None,
                         help="where the zh and en IMS documents disagree, hold huawei-ims to this one")
    cassettes = certify.add_mutually_exclusive_group()
    cassettes.add_argument("--record", action="store_true",
                           help="record every HTTP interaction into cassettes (one per suite test)")
    cassettes.add_argument("--replay", action="store_true",
                           help="certify the recorded cassettes offline: no provider, no network")
    certify.add_argument("--cassette-dir", default=None, metavar="DIR",
                         help="where cassettes are recorded and replayed from (default cassettes/)")
    certify.set_defaults(run=_certify)

    report = commands.add_parser("report", help="work with compliance reports")
    report_commands = report.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    merge = report_commands.add_parser("merge", help="merge the reports of several runs into one")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="report folders (each holding <dialect>/compliance.json)")
    merge.add_argument("--out", required=True, metavar="DIR", help="where the merged reports go")
    merge.add_argument("--allow-different-targets", action="store_true",
                       help="merge runs against different base_urls (the report lists every target)")
    merge.set_defaults(run=_merge)

    mock = commands.add_parser("mock", help="run the reference provider in the foreground")
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    mock.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free port)")
    mock.add_argument("--defect", action="append", default=[], metavar="ID",
                      help="break one documented rule on purpose (repeatable; see --list-defects)")
    mock.add_argument("--list-defects", action="store_true", help="list every defect and exit")
    mock.add_argument("--emit-targets", metavar="DIR", help="write one target file per dialect into DIR")
    mock.add_argument("--control", choices=("full", "outline"), default="full",
                      help="outline: serve only the control calls of the public outline, no extension "
                           "(how a mock built from the outline alone looks to the suite)")
    mock.add_argument("--job-seconds", type=float, default=2.0, metavar="S",
                      help="how long an asynchronous job runs before it ends by itself (default 2)")
    mock.set_defaults(run=_mock)

    replay = commands.add_parser("replay", help="send recorded requests to a target and report every difference",
                                 epilog=REPLAY_EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("--cassettes", required=True, metavar="DIR",
                        help="the cassettes folder (or one dialect's folder in it)")
    replay.add_argument("--target", required=True, metavar="FILE", help="target file of the endpoint to compare")
    replay.add_argument("--report-dir", default="reports", metavar="DIR",
                        help="where the compliance report and replay.json go (default reports/)")
    replay.set_defaults(run=_replay)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except CannotRun as error:
        print(f"imagecert: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except Interrupted as error:
        print(f"imagecert: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """The `imagecert` command: `main()`, then out without tearing the interpreter down.
    A certify leaves a heap of schemas, strategies and recorded answers that Python would
    free object by object only to exit (half a second); everything it writes is closed by
    then, and the exit handlers still run."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(status)


if __name__ == "__main__":
    run()
