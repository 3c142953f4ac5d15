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
        results = run_policy_tests(directory, policies)
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
        command.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv` and return its exit status."""
    args = _parser().parse_args(argv)
    handler: Callable[[Any], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
