"""The `shieldgate` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.config import load_config
    from gateway.logs import configure_logging
    from gateway.settings import Settings
    from gateway.yamlfile import ConfigError

    overrides = {
        name: getattr(args, name) for name in ("config", "host", "port") if getattr(args, name) is not None
    }
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    try:
        load_config(settings.config)  # fail before binding the port, with a readable message
    except ConfigError as exc:
        print(f"shieldgate: invalid configuration: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # On SIGTERM uvicorn stops accepting connections, lets in-flight requests and streams
        # finish for up to this long, then runs the lifespan shutdown (audit flush included).
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
    )
    return 0


def _keys_new(args: argparse.Namespace) -> int:
    from gateway.auth import digest, new_key

    key = new_key()
    entry = [{"id": args.id, "tenant": args.tenant, "sha256": digest(key)}]
    print(f"key: {key}", file=sys.stderr)
    print(
        "Give the key to the client now; only its digest is kept. Add to the config's keys:", file=sys.stderr
    )
    print(yaml.safe_dump(entry, sort_keys=False), end="")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.yamlfile import ConfigError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.path}: {problem}", file=sys.stderr)
        return 1
    print(f"ok: {len(config.models)} model aliases, {len(config.keys)} keys")
    return 0


def _load_policy_dir(args: argparse.Namespace) -> tuple[Path, Any] | None:
    """The directory and its PolicySet, or None after printing every problem."""
    from gateway.config import load_config
    from gateway.policy import PolicyErrors, default_policy_dir, load_policies
    from gateway.yamlfile import ConfigError

    directory: Path = args.directory or default_policy_dir()
    try:
        aliases = list(load_config(args.config).models) if args.config else None
        return directory, load_policies(directory, aliases)
    except ConfigError as exc:
        print(f"{exc.path}: " + "; ".join(exc.problems), file=sys.stderr)
    except PolicyErrors as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
    return None


def _policy_test_scanner(args: argparse.Namespace, policies: Any) -> Any:
    """The gateway's scanner for the cases' `text`: guard and recognizers, PII model on request."""
    from gateway.guard import Guard, bundled_guard_dir, load_guard
    from gateway.pii.model import bundled_pii_dir, load_pii_model
    from gateway.pii.service import PiiFinder
    from gateway.scanners import Scanners, policy_model_labels

    guard = None if args.no_guard else Guard(load_guard(bundled_guard_dir()))
    pii = PiiFinder(load_pii_model(bundled_pii_dir())) if args.pii_model else None
    labels = policy_model_labels(policies, pii.model.descriptions if pii else {})
    return Scanners(guard, pii, lambda: labels)


def _policy_check(args: argparse.Namespace) -> int:
    loaded = _load_policy_dir(args)
    if loaded is None:
        return 1
    _, policies = loaded
    for name, policy in sorted(policies.policies.items()):
        tenants = sorted(t for t, p in policies.tenants.items() if p == name) or [
            "(default)" if name == "default" else "-"
        ]
        print(f"ok: {name} version {policy.version}, {len(policy.rules)} rules, tenants {', '.join(tenants)}")
    if args.config is None:
        print("note: model aliases not checked; pass --config gateway.yaml to check them", file=sys.stderr)
    return 0


def _policy_test(args: argparse.Namespace) -> int:
    from gateway.policy import run_policy_tests
    from gateway.yamlfile import ConfigError

    loaded = _load_policy_dir(args)
    if loaded is None:
        return 1
    directory, policies = loaded
    try:
        results = run_policy_tests(directory, policies, _policy_test_scanner(args, policies))
    except ConfigError as exc:
        print(f"{exc.path}: " + "; ".join(exc.problems), file=sys.stderr)
        return 1
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'} {result.file}: {result.name}")
        for problem in result.problems:
            print(f"    {problem}")
    failed = sum(not result.passed for result in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


def _audit_filter(args: argparse.Namespace) -> Any:
    from gateway.audit.review import RecordFilter

    return RecordFilter(
        since=args.since,
        until=args.until,
        tenant=args.tenant,
        action=args.action,
        outcome=args.outcome,
        category=args.category,
        label=args.label,
        rule=args.rule,
        model=args.model,
    )


def _audit_list(args: argparse.Namespace) -> int:
    from gateway.audit.review import categories, read_records

    keep = _audit_filter(args)
    shown = 0
    for record in read_records(args.paths):
        if not keep(record):
            continue
        print(
            f"{record['time']}  {record.get('tenant') or '-':<12} {record.get('endpoint') or '-':<17} "
            f"{record.get('model_requested') or '-'}->{record.get('model_routed') or '-':<8} "
            f"{record.get('status')} {record.get('outcome'):<14} {record.get('action') or '-':<7} "
            f"rules={','.join(record.get('rules') or []) or '-'} "
            f"categories={','.join(sorted(categories(record))) or '-'} id={record['request_id']}"
        )
        shown += 1
        if args.limit and shown >= args.limit:
            break
    return 0


def _audit_summary(args: argparse.Namespace) -> int:
    import json

    from gateway.audit.review import read_records, summarize

    keep = _audit_filter(args)
    print(json.dumps(summarize(filter(keep, read_records(args.paths)), args.bucket), indent=2))
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    import json

    from gateway.audit.review import export_csv, read_records

    records = list(filter(_audit_filter(args), read_records(args.paths)))
    if args.format == "csv":
        text = export_csv(records)
    else:
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"exported {len(records)} records to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from gateway.audit.review import expand, verify

    problems, count, head = verify(args.paths)
    for problem in problems:
        print(f"BROKEN {problem}")
    if problems:
        print(f"{len(problems)} problem(s) in {count} records", file=sys.stderr)
        return 1
    files = len(expand(args.paths))
    print(f"ok: {count} records in {files} file(s), chain intact up to seq {head.seq}")
    if count and head.seq != count:
        print(f"note: the chain starts at seq {head.seq - count + 1}; earlier records are not in these files")
    return 0


def _iso_time(text: str) -> Any:
    from gateway.audit.review import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc


def _add_audit_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="review and verify audit logs").add_subparsers(
        dest="audit_command", required=True
    )
    for name, handler, text in (
        ("list", _audit_list, "print matching records, one a line"),
        (
            "summary",
            _audit_summary,
            "counts by action, outcome, category, rule, label, tenant; rates over time",
        ),
        ("export", _audit_export, "write matching records as CSV or JSONL"),
    ):
        command = audit.add_parser(name, help=text)
        command.add_argument(
            "paths", type=Path, nargs="+", help="audit files (rotated siblings included) or folders"
        )
        command.add_argument("--since", type=_iso_time, help="ISO 8601 time, inclusive (UTC when no zone)")
        command.add_argument("--until", type=_iso_time, help="ISO 8601 time, exclusive")
        for field in ("tenant", "action", "outcome", "category", "label", "rule", "model"):
            command.add_argument(f"--{field}")
        command.set_defaults(handler=handler)
        if name == "list":
            command.add_argument("--limit", type=int, default=0, help="stop after this many records")
        if name == "summary":
            command.add_argument("--bucket", choices=["minute", "hour", "day"], default="hour")
        if name == "export":
            command.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
            command.add_argument("--output", type=Path, help="file to write (default: stdout)")
    verify = audit.add_parser("verify", help="check the hash chain: edited, deleted or reordered records")
    verify.add_argument(
        "paths", type=Path, nargs="+", help="audit files in order (rotated siblings included)"
    )
    verify.set_defaults(handler=_audit_verify)


def _scan(args: argparse.Namespace) -> int:
    from gateway.batchscan import ScanInputError, scan_file
    from gateway.guard import bundled_guard_dir, load_guard
    from gateway.pii.model import bundled_pii_dir, load_pii_model
    from gateway.scanners import model_labels

    if not args.input.is_file():
        print(f"shieldgate: no such input file: {args.input}", file=sys.stderr)
        return 2
    guard = None if args.no_guard else load_guard(args.guard_model or bundled_guard_dir())
    pii = None if args.no_pii_model else load_pii_model(args.pii_model or bundled_pii_dir())
    labels: dict[str, str] = {}
    if pii is not None:
        named = [label for label in (args.labels or "").split(",") if label]
        custom = dict(label.split(":", 1) for label in named if ":" in label)
        plain = [label for label in named if ":" not in label]
        unknown = sorted(set(plain) - set(pii.descriptions))
        if unknown:
            print(
                f"shieldgate: unknown PII labels: {', '.join(unknown)} (give your own as name:words)",
                file=sys.stderr,
            )
            return 2
        described = {label: pii.descriptions[label] for label in plain} | custom
        labels = described if named else model_labels(set(), {}, pii.descriptions)
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            written = scan_file(args.input, out, guard, pii, labels)
    except ScanInputError as exc:
        partial.unlink(missing_ok=True)
        print(f"shieldgate: {exc}", file=sys.stderr)
        return 2
    partial.replace(args.output)  # a finished file, or none: never a half-written one
    print(f"wrote {written} lines to {args.output}", file=sys.stderr)
    return 0


def _bench_stream(args: argparse.Namespace) -> int:
    from gateway.bench.stream import run

    if args.requests < 1 or args.requests > 10_000:
        print("shieldgate: --requests must be between 1 and 10000", file=sys.stderr)
        return 2
    run(
        requests=args.requests,
        warmup=args.warmup,
        word_delay=args.word_delay,
        tail=args.tail,
        output=args.output,
    )
    return 0


def _numbers(text: str, flag: str, example: str) -> list[int] | None:
    """A comma-separated list of whole numbers, or None (after saying why) when it is not one."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        print(f"shieldgate: {flag} takes numbers separated by commas, such as {example}", file=sys.stderr)
        return None


def _out_of_range(flag: str, value: float, most: int = 10_000) -> bool:
    """Whether `flag`'s `value` is outside 0 to `most` (said on stderr)."""
    if 0 <= value <= most:
        return False
    print(f"shieldgate: {flag} must be 0-{most}", file=sys.stderr)
    return True


def _holds_no_package(checkout: Path | None) -> bool:
    """Whether `checkout` is given and holds no gateway package (said on stderr)."""
    if checkout is None or (checkout / "gateway" / "__main__.py").is_file():
        return False
    print(f"shieldgate: {checkout} holds no gateway package (gateway/__main__.py)", file=sys.stderr)
    return True


def _add_upstream_delay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream-delay-ms",
        type=float,
        default=0.0,
        help="milliseconds the fake upstream waits before it answers, as a model would (default 0)",
    )


def _add_prompt_words(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prompt-words",
        type=int,
        default=0,
        metavar="N",
        help="N words of prose before each prompt's question, for long prompts (default 0)",
    )


def _bench_overhead(args: argparse.Namespace) -> int:
    from gateway.bench.overhead import run

    levels = _numbers(args.levels, "--levels", "1,8,32")
    if levels is None:
        return 2
    if not all(1 <= level <= 256 for level in levels) or not 1 <= args.requests <= 10_000:
        print("shieldgate: levels must be 1-256 and --requests 1-10000", file=sys.stderr)
        return 2
    if _out_of_range("--upstream-delay-ms", args.upstream_delay_ms) or _out_of_range(
        "--prompt-words", args.prompt_words
    ):
        return 2
    run(
        levels,
        args.requests,
        litellm=not args.no_litellm,
        output=args.output,
        upstream_delay=args.upstream_delay_ms / 1000,
        words=args.prompt_words,
    )
    return 0


def _bench_profile(args: argparse.Namespace) -> int:
    from gateway.bench.profile import run

    if not 1 <= args.requests <= 10_000 or not 1 <= args.concurrency <= 256:
        print("shieldgate: --requests must be 1-10000 and --concurrency 1-256", file=sys.stderr)
        return 2
    if not 10 <= args.rate <= 1000:
        print("shieldgate: --rate must be between 10 and 1000 samples a second", file=sys.stderr)
        return 2
    if _out_of_range("--prompt-words", args.prompt_words):
        return 2
    try:
        run(
            args.requests,
            args.concurrency,
            args.stream,
            args.rate,
            args.pii,
            args.output,
            warm=args.warm,
            words=args.prompt_words,
        )
    except RuntimeError as exc:
        print(f"shieldgate: {exc}", file=sys.stderr)
        return 1
    return 0


def _bench_guard(args: argparse.Namespace) -> int:
    from gateway.bench.guard import run

    levels = _numbers(args.levels, "--levels", "1,8,32")
    if levels is None:
        return 2
    if not all(1 <= level <= 256 for level in levels) or not 1 <= args.runs <= 10_000:
        print("shieldgate: levels must be 1-256 and --runs 1-10000", file=sys.stderr)
        return 2
    if not 3 <= args.tokens <= 512:
        print("shieldgate: --tokens must be between 3 and 512", file=sys.stderr)
        return 2
    if args.model is not None:
        from gateway.guard.model import check_guard_dir

        if _refused(check_guard_dir, args.model):
            return 2
    run(args.tokens, args.runs, levels, args.output, args.model)
    return 0


def _refused(check: Callable[[Path], object], directory: Path) -> bool:
    """Whether `check` (a model directory check, raising ValueError) refuses `directory`; the
    reason goes to stderr."""
    try:
        check(directory)
    except ValueError as exc:
        print(f"shieldgate: {exc}", file=sys.stderr)
        return True
    return False


def _bench_upstream(args: argparse.Namespace) -> int:
    from gateway.bench.upstream import run

    if not 1 <= args.requests <= 10_000:
        print("shieldgate: --requests must be 1-10000", file=sys.stderr)
        return 2
    run(args.requests, args.output)
    return 0


def _bench_startup(args: argparse.Namespace) -> int:
    from gateway.bench.startup import run

    if not 1 <= args.runs <= 100:
        print("shieldgate: --runs must be 1-100", file=sys.stderr)
        return 2
    if _holds_no_package(args.checkout):
        return 2
    run(args.runs, args.output, args.checkout)
    return 0


def _bench_pii(args: argparse.Namespace) -> int:
    from gateway.bench.pii import run

    lengths = _numbers(args.tokens, "--tokens", "128,512")
    if lengths is None:
        return 2
    if not all(8 <= tokens <= 4096 for tokens in lengths) or not 1 <= args.runs <= 10_000:
        print("shieldgate: --tokens must be 8-4096 and --runs 1-10000", file=sys.stderr)
        return 2
    if args.model is not None:
        from gateway.pii.model import check_pii_dir

        if _refused(check_pii_dir, args.model):
            return 2
    run(lengths, args.runs, args.output, args.model)
    return 0


def _bench_compare(args: argparse.Namespace) -> int:
    from gateway.bench.compare import parse_settings, run
    from gateway.settings import Settings

    levels = _numbers(args.levels, "--levels", "1,8")
    if levels is None:
        return 2
    if not all(1 <= level <= 256 for level in levels) or not 1 <= args.rounds <= args.requests <= 100_000:
        print(
            "shieldgate: levels must be 1-256, and --rounds 1 to --requests (at most 100000)", file=sys.stderr
        )
        return 2
    try:
        a, b = parse_settings(args.a), parse_settings(args.b)
    except ValueError as exc:
        print(f"shieldgate: {exc}", file=sys.stderr)
        return 2
    unknown = sorted((set(a) | set(b)) - set(Settings.model_fields))
    if unknown:
        print(
            f"shieldgate: no such setting: {', '.join(unknown)} (see the README's Configuration)",
            file=sys.stderr,
        )
        return 2
    if _out_of_range("--prompt-words", args.prompt_words) or _out_of_range(
        "--upstream-delay-ms", args.upstream_delay_ms
    ):
        return 2
    if _holds_no_package(args.a_checkout) or _holds_no_package(args.b_checkout):
        return 2
    run(
        a,
        b,
        levels=levels,
        requests=args.requests,
        rounds=args.rounds,
        stream=args.stream,
        warm=args.warm,
        output=args.output,
        checkouts={"A": args.a_checkout, "B": args.b_checkout},
        words=args.prompt_words,
        upstream_delay=args.upstream_delay_ms / 1000,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shieldgate", description="OpenAI-compatible LLM gateway with guardrails."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "--config", type=Path, help="gateway YAML (default: SHIELDGATE_CONFIG or the bundled one)"
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.set_defaults(handler=_serve)

    keys = commands.add_parser("keys", help="manage client API keys").add_subparsers(
        dest="keys_command", required=True
    )
    new = keys.add_parser("new", help="create a client key and print its config entry")
    new.add_argument("--id", required=True, help="a name for the key, shown in logs and audit records")
    new.add_argument("--tenant", required=True, help="the tenant whose policies apply to this key")
    new.set_defaults(handler=_keys_new)

    config = commands.add_parser("config", help="gateway configuration").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser("check", help="validate a gateway YAML file")
    check.add_argument("config", type=Path, nargs="?", help="the file (default: the bundled one)")
    check.set_defaults(handler=_config_check)

    policy = commands.add_parser("policy", help="policy files").add_subparsers(
        dest="policy_command", required=True
    )
    for name, handler, text in (
        ("check", _policy_check, "validate every policy file of a directory"),
        ("test", _policy_test, "run the cases of the directory's *.test.yaml files"),
    ):
        command = policy.add_parser(name, help=text)
        command.add_argument(
            "directory", type=Path, nargs="?", help="policy directory (default: the bundled one)"
        )
        command.add_argument("--config", type=Path, help="gateway YAML, to check model aliases")
        if name == "test":
            command.add_argument(
                "--no-guard", action="store_true", help="scan the cases' text with the recognizers only"
            )
            command.add_argument(
                "--pii-model", action="store_true", help="also run the PII model on the cases' text"
            )
        command.set_defaults(handler=handler)

    _add_audit_commands(commands)

    scan = commands.add_parser("scan", help="guard verdicts, PII spans and redacted text for a JSONL file")
    scan.add_argument("--input", type=Path, required=True, help='JSONL, one {"text": ...} per line')
    scan.add_argument("--output", type=Path, required=True, help="JSONL with guard, pii and redacted added")
    scan.add_argument("--no-guard", action="store_true", help="PII only, without the guard model")
    scan.add_argument("--guard-model", type=Path, help="guard model directory (default: the bundled one)")
    scan.add_argument("--no-pii-model", action="store_true", help="PII from the recognizers only")
    scan.add_argument("--pii-model", type=Path, help="PII model directory (default: the bundled one)")
    scan.add_argument(
        "--labels",
        help="PII labels for the model, comma separated; your own as name:description "
        "(default: person, phone_number, address and the other default labels)",
    )
    scan.set_defaults(handler=_scan)

    bench = commands.add_parser("bench", help="benchmarks on loopback").add_subparsers(
        dest="bench_command", required=True
    )
    stream = bench.add_parser("stream", help="time to first token added to streamed answers")
    stream.add_argument("--requests", type=int, default=50)
    stream.add_argument("--warmup", type=int, default=5)
    stream.add_argument("--word-delay", type=float, default=0.02, help="the fake upstream's seconds per word")
    stream.add_argument(
        "--tail", type=int, default=32, help="held-back characters in the gateway's tail mode"
    )
    stream.add_argument("--output", type=Path, help="write the figures as JSON")
    stream.set_defaults(handler=_bench_stream)
    overhead = bench.add_parser("overhead", help="latency added over the upstream, beside LiteLLM's proxy")
    overhead.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    overhead.add_argument("--requests", type=int, default=200, help="requests per level and mode")
    overhead.add_argument("--no-litellm", action="store_true", help="skip LiteLLM's proxy (no install)")
    _add_upstream_delay(overhead)
    _add_prompt_words(overhead)
    overhead.add_argument("--output", type=Path, help="write the figures as JSON")
    overhead.set_defaults(handler=_bench_overhead)
    profile = bench.add_parser("profile", help="where a guarded request's time goes (py-spy samples)")
    profile.add_argument("--requests", type=int, default=300, help="requests sampled (default 300)")
    profile.add_argument("--concurrency", type=int, default=1, help="requests at a time (default 1)")
    profile.add_argument("--stream", action="store_true", help="streamed answers")
    profile.add_argument("--pii", action="store_true", help="also run the PII model")
    profile.add_argument(
        "--warm", action="store_true", help="repeat one question (verdicts cached) instead of new ones"
    )
    profile.add_argument("--rate", type=int, default=100, help="samples a second (default 100)")
    _add_prompt_words(profile)
    profile.add_argument("--output", type=Path, help="keep py-spy's raw stacks in this file")
    profile.set_defaults(handler=_bench_profile)
    guard = bench.add_parser("guard", help="latency and throughput of the guard model alone")
    guard.add_argument("--tokens", type=int, default=128, help="prompt length in tokens (default 128)")
    guard.add_argument("--runs", type=int, default=200, help="scored prompts per measurement")
    guard.add_argument("--levels", default="1,8,32", help="concurrent callers (default 1,8,32)")
    guard.add_argument("--output", type=Path, help="write the figures as JSON")
    guard.add_argument("--model", type=Path, help="a guard model directory (default: the bundled one)")
    guard.set_defaults(handler=_bench_guard)
    pii = bench.add_parser("pii", help="latency of the PII model alone")
    pii.add_argument("--tokens", default="128,512", help="text lengths in tokens (default 128,512)")
    pii.add_argument("--runs", type=int, default=100, help="texts per measurement")
    pii.add_argument("--output", type=Path, help="write the figures as JSON")
    pii.add_argument("--model", type=Path, help="a PII model directory (default: the bundled one)")
    pii.set_defaults(handler=_bench_pii)
    compare = bench.add_parser("compare", help="two gateway settings side by side, in interleaved rounds")
    compare.add_argument(
        "--a", action="append", default=[], metavar="NAME=VALUE", help="a setting of side A (repeat for more)"
    )
    compare.add_argument(
        "--b", action="append", default=[], metavar="NAME=VALUE", help="a setting of side B (repeat for more)"
    )
    for side in ("a", "b"):
        compare.add_argument(
            f"--{side}-checkout",
            type=Path,
            metavar="DIR",
            help=f"run side {side.upper()}'s gateway from the package in DIR, a checkout of another commit"
            " (git worktree add DIR COMMIT), with this environment's dependencies; it runs in DIR, so"
            " give paths in settings in full",
        )
    compare.add_argument("--levels", default="1", help="concurrency levels (default 1)")
    compare.add_argument(
        "--requests", type=int, default=2000, help="requests a level on each side (default 2000)"
    )
    compare.add_argument("--rounds", type=int, default=20, help="rounds the requests go in (default 20)")
    compare.add_argument("--stream", action="store_true", help="streamed answers")
    compare.add_argument("--warm", action="store_true", help="repeat one question (verdicts cached)")
    _add_prompt_words(compare)
    _add_upstream_delay(compare)
    compare.add_argument("--output", type=Path, help="write the figures as JSON")
    compare.set_defaults(handler=_bench_compare)
    startup = bench.add_parser("startup", help="time to ready and to a new gateway's first answers")
    startup.add_argument("--runs", type=int, default=3, help="gateways started one after another (default 3)")
    startup.add_argument(
        "--checkout",
        type=Path,
        metavar="DIR",
        help="run the gateway from the package in DIR (as bench compare)",
    )
    startup.add_argument("--output", type=Path, help="write the figures as JSON")
    startup.set_defaults(handler=_bench_startup)
    upstream = bench.add_parser("upstream", help="CPU and latency of one upstream call, by client stack")
    upstream.add_argument("--requests", type=int, default=300, help="calls per client (default 300)")
    upstream.add_argument("--output", type=Path, help="write the figures as JSON")
    upstream.set_defaults(handler=_bench_upstream)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv` and return its exit status."""
    args = _parser().parse_args(argv)
    handler: Callable[[Any], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
