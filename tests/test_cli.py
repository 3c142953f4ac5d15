"""The `shieldgate` command line, run as real processes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

import gateway
from gateway.guard.model import bundled_guard_dir
from tests.processes import SHIELDGATE, new_key_entry, process, run_shieldgate
from tests.server import free_port

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_upstream() -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "gateway.fake_upstream", "--port", str(port)]
    with process(args, f"http://127.0.0.1:{port}/healthz"):
        yield f"http://127.0.0.1:{port}/v1"


def test_serve_proxies_to_a_real_upstreamprocess(fake_upstream: str, tmp_path: Path) -> None:
    """`shieldgate serve` as a process, with a key from `shieldgate keys new`, serves the SDK."""
    key, entry = new_key_entry()
    config = {
        "models": {
            "small": {
                "deployments": [
                    {"model": "openai/fake", "api_base": fake_upstream, "api_key_env": "FAKE_UPSTREAM_KEY"}
                ]
            }
        },
        "keys": [entry],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    args = [*SHIELDGATE, "serve", "--config", str(path), "--port", str(port)]
    with (
        process(args, f"http://127.0.0.1:{port}/readyz"),
        openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0) as sdk,
    ):
        answer = sdk.chat.completions.create(model="small", messages=[{"role": "user", "content": "Hi"}])
        stream = sdk.chat.completions.create(
            model="small", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert answer.choices[0].message.content == "Hello from the fake upstream."
    assert streamed.strip() == "Hello from the fake upstream."


def test_serve_refuses_an_invalid_config(tmp_path: Path) -> None:
    """A broken config stops `serve` before it binds, with the file and line in the message."""
    path = tmp_path / "gateway.yaml"
    path.write_text("models:\n  small:\n    deployments: []\n")
    result = run_shieldgate("serve", "--config", str(path), "--port", str(free_port()))
    assert result.returncode == 2
    assert f"{path}: line 3, field 'models.small.deployments'" in result.stderr


def test_config_check(tmp_path: Path) -> None:
    """`shieldgate config check` accepts the bundled file and rejects a bad one."""
    good = run_shieldgate("config", "check")
    assert good.returncode == 0
    assert good.stdout.startswith("ok: 2 model aliases")
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text("models: 3\n")
    bad = run_shieldgate("config", "check", str(bad_path))
    assert bad.returncode == 1
    assert "field 'models'" in bad.stderr


def test_policy_check_and_test_on_the_example_directory() -> None:
    """`policy check` lists each policy with its version; `policy test` runs every case."""
    policies = str(REPO / "policies")
    config = str(REPO / "gateway" / "defaults" / "gateway.yaml")
    check = subprocess.run(
        [*SHIELDGATE, "policy", "check", policies, "--config", config],
        capture_output=True,
        text=True,
        check=False,
    )
    tested = subprocess.run(
        [*SHIELDGATE, "policy", "test", policies, "--config", config],
        capture_output=True,
        text=True,
        check=False,
    )

    assert check.returncode == 0, check.stderr
    assert [line.split(" version ")[0] for line in check.stdout.splitlines()] == ["ok: acme", "ok: default"]
    assert tested.returncode == 0, tested.stdout
    assert tested.stdout.splitlines()[-1].endswith(" passed, 0 failed")


def test_policy_check_reports_every_problem(tmp_path: Path) -> None:
    """A broken policy directory fails with each problem on its own line."""
    (tmp_path / "default.yaml").write_text("rules:\n  - {id: a, action: nuke}\n  - {id: b, action: route}\n")
    result = subprocess.run(
        [*SHIELDGATE, "policy", "check", str(tmp_path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'default.yaml'}: line 2, field 'rules.0.action'")
    assert "action 'route' needs" in lines[1]


def test_policy_test_fails_on_a_failing_case(tmp_path: Path) -> None:
    """`policy test` exits 1 and prints FAIL with the difference."""
    (tmp_path / "default.yaml").write_text("rules: []\n")
    (tmp_path / "default.test.yaml").write_text(
        "cases:\n  - {name: x, messages: [{}], expect: {action: block}}\n"
    )
    result = subprocess.run(
        [*SHIELDGATE, "policy", "test", str(tmp_path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "action: expected 'block', got 'allow'" in result.stdout


def test_sigterm_lets_streams_finish_and_refuses_new_connections(fake_upstream: str, tmp_path: Path) -> None:
    """On SIGTERM an in-flight stream runs to [DONE], new connections are refused, shutdown completes."""
    deployment = {"model": "openai/fake", "api_base": fake_upstream, "api_key_env": "FAKE_UPSTREAM_KEY"}
    config: dict[str, object] = {"models": {"small": {"deployments": [deployment]}}}
    config["auth"] = {"required": False}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    args = [*SHIELDGATE, "serve", "--config", str(path), "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    with process(args, f"{base}/readyz", log=log) as gateway:
        body = {
            "model": "small",
            "stream": True,
            "messages": [{"role": "user", "content": "slow-stream: hi"}],
        }
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            gateway.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{base}/healthz", timeout=2)
            rest = [line for line in lines if line.startswith("data: ")]
        # uvicorn re-raises the signal once it has shut down gracefully
        assert gateway.wait(timeout=30) == -signal.SIGTERM

    assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["role"] == "assistant"
    assert rest[-1] == "data: [DONE]"
    assert '"event": "gateway.stopped"' in log.read_text()  # the lifespan shutdown ran (audit flushed)
    text = "".join(
        json.loads(line.removeprefix("data: "))["choices"][0]["delta"].get("content") or ""
        for line in rest[:-1]
    )
    assert text.strip() == "Hello from the fake upstream."


def test_bench_stream_runs_and_writes_figures(tmp_path: Path) -> None:
    """`shieldgate bench stream` measures direct and guarded streams and writes its figures."""
    output = tmp_path / "ttft.json"
    result = run_shieldgate(
        "bench",
        "stream",
        "--requests",
        "3",
        "--warmup",
        "0",
        "--word-delay",
        "0",
        "--output",
        str(output),
        timeout=300,
        check=True,
    )
    figures = json.loads(output.read_text())
    assert set(figures["results"]) == {"direct", "gateway (sentence)", "gateway (tail)"}
    assert all(row["ttft_p50_ms"] > 0 for row in figures["results"].values())
    assert "gateway (tail)" in result.stdout


def test_bench_overhead_runs_without_litellm(tmp_path: Path) -> None:
    """`shieldgate bench overhead --no-litellm` measures the floor and both gateway modes; with
    long prompts too, whose prose no policy blocks."""
    output = tmp_path / "overhead.json"
    run_shieldgate(
        "bench",
        "overhead",
        "--levels",
        "1,2",
        "--requests",
        "4",
        "--no-litellm",
        "--prompt-words",
        "150",
        "--output",
        str(output),
        timeout=300,
        check=True,
    )
    figures = json.loads(output.read_text())
    assert figures["prompt_words"] == 150
    targets = figures["targets"]
    assert set(targets) == {
        "direct",
        "shieldgate (guard, cache cold)",
        "shieldgate (guard during call, cold)",
        "shieldgate (guard, cache warm)",
        "shieldgate (guard + PII model, cold)",
        "shieldgate (scanning off)",
    }
    for cases in targets.values():
        assert set(cases) == {"json@1", "json@2", "stream@1", "stream@2"}
        assert all(case["failed"] == 0 and case["blocked"] == 0 for case in cases.values())


def test_bench_guard_and_pii_print_and_write_figures(tmp_path: Path) -> None:
    """`shieldgate bench guard` and `bench pii` time the models alone."""
    guard = ["--levels", "1,4", "--model", str(bundled_guard_dir())]
    for command, extra in (("guard", guard), ("pii", ["--tokens", "64"])):
        output = tmp_path / f"{command}.json"
        result = run_shieldgate(
            "bench", command, "--runs", "5", *extra, "--output", str(output), timeout=300, check=True
        )
        figures = json.loads(output.read_text())
        assert "p50_ms" in result.stdout
        if command == "guard":
            assert figures["batch1_one_thread"]["p50_ms"] > 0
            assert (
                figures["prompt_then_response_one_thread"]["p99_ms"] >= figures["batch1_one_thread"]["p50_ms"]
            )
            for way in ("one_after_another", "side_by_side"):
                assert figures[f"batch8_{way}"]["texts_per_second"] > 0
            assert [row["concurrency"] for row in figures["concurrent"]] == [1, 4]
        else:
            assert figures["64_tokens_one_thread"]["p99_ms"] >= figures["64_tokens_one_thread"]["p50_ms"]


def test_bench_upstream_times_each_client_stack(tmp_path: Path) -> None:
    """`shieldgate bench upstream`: httpx, the openai SDK and the gateway's litellm path, alone
    and right after two guard passes."""
    output = tmp_path / "upstream.json"
    result = run_shieldgate(
        "bench", "upstream", "--requests", "5", "--output", str(output), timeout=120, check=True
    )
    figures = json.loads(output.read_text())
    assert "gateway_upstream_litellm" in result.stdout
    assert figures["requests"] == 5
    for stack in ("httpx", "openai_sdk", "gateway_upstream_litellm", "gateway_upstream_litellm_after_guard"):
        assert figures[stack]["p99_ms"] >= figures[stack]["p50_ms"] > 0
        assert figures[stack]["cpu_ms_per_call"] > 0
    assert run_shieldgate("bench", "upstream", "--requests", "0").returncode == 2


def test_bench_guard_rejects_a_directory_without_a_guard(tmp_path: Path) -> None:
    result = run_shieldgate("bench", "guard", "--model", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} holds no guard.onnx" in result.stderr


def test_bench_pii_rejects_a_directory_without_a_pii_model(tmp_path: Path) -> None:
    result = run_shieldgate("bench", "pii", "--model", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} holds no pii.json" in result.stderr


def test_bench_profile_samples_a_loaded_gateway(tmp_path: Path) -> None:
    """`shieldgate bench profile` attaches py-spy, prints CPU per request by part, keeps the stacks."""
    output = tmp_path / "stacks.txt"
    result = run_shieldgate(
        "bench",
        "profile",
        "--requests",
        "100",  # enough samples at 200 Hz to catch both the upstream call and a model pass
        "--rate",
        "200",
        "--output",
        str(output),
        timeout=300,
        check=True,
    )
    assert "100 requests (json, 1 at a time, 0 blocked, 0 failed)" in result.stdout
    assert "model inference (onnxruntime)" in result.stdout
    assert "of all: kernel time" in result.stdout  # the system CPU, from /proc
    assert "of all: the event loop's thread" in result.stdout
    stacks = output.read_text()
    assert "gateway/upstream.py" in stacks  # the event loop was sampled while it called upstream
    assert "onnxruntime" in stacks  # and the guard while it scored


def test_bench_profile_with_a_warm_cache_never_runs_the_model() -> None:
    """`--warm` repeats one question: its verdicts are cached, so no sample is a model pass,
    however long the prompt."""
    result = run_shieldgate(
        *("bench", "profile", "--warm", "--requests", "20", "--rate", "200", "--prompt-words", "150"),
        timeout=300,
        check=True,
    )
    assert (
        "20 requests (json, cache warm, 150 words of prose a prompt, 1 at a time, 0 blocked" in result.stdout
    )
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("model inference")]
    assert float(row.split()[-2]) == 0.0  # CPU ms a request


def test_bench_profile_rejects_a_rate_out_of_range() -> None:
    result = run_shieldgate("bench", "profile", "--rate", "5")
    assert result.returncode == 2
    assert "--rate must be between 10 and 1000" in result.stderr


def test_bench_compare_runs_two_settings_side_by_side(tmp_path: Path) -> None:
    """`shieldgate bench compare` sends the same load to two gateways and writes B - A's inputs."""
    output = tmp_path / "compare.json"
    result = run_shieldgate(
        "bench",
        "compare",
        "--a",
        "guardrails=false",
        "--b",
        "guardrails=false",
        "--b",
        "scanner_inline_chars=0",
        "--requests",
        "6",
        "--rounds",
        "2",
        "--prompt-words",
        "200",
        "--upstream-delay-ms",
        "5",
        "--output",
        str(output),
        timeout=300,
        check=True,
    )
    figures = json.loads(output.read_text())
    assert figures["b"] == {"guardrails": "false", "scanner_inline_chars": "0"}
    assert figures["prompt_words"] == 200
    assert figures["upstream_delay_s"] == 0.005
    assert "each prompt: 200 words of prose" in result.stdout
    for side in ("A", "B"):
        row = figures["figures"][side]["json@1"]
        assert row["failed"] == 0
        assert row["cpu_ms_a_request"] is not None  # CPU ticks are 10 ms: six requests may count 0
        assert row["max_ms"] >= row["p999_ms"] >= row["p50_ms"] > 0
        pauses = figures["gc_pauses"][side]
        assert set(pauses) == {"0", "1", "2"}
        assert all(0 <= generation["long"] <= generation["count"] for generation in pauses.values())
    assert "B-A" in result.stdout
    assert "A: garbage collections while serving: generation 0: " in result.stdout


def test_bench_compare_runs_a_side_from_another_checkout(tmp_path: Path) -> None:
    """`--b-checkout DIR`: side B's gateway is the package in DIR (here a copy that notes where it ran)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(Path(gateway.__file__).parent, checkout / "gateway")
    main = checkout / "gateway" / "__main__.py"
    main.write_text('import pathlib\npathlib.Path("ran-here").write_text(__file__)\n' + main.read_text())
    output = tmp_path / "compare.json"
    result = run_shieldgate(
        *("bench", "compare", "--a", "guardrails=false", "--b", "guardrails=false"),
        *("--b-checkout", str(checkout), "--requests", "4", "--rounds", "2", "--output", str(output)),
        timeout=300,
        check=True,
    )
    assert (checkout / "ran-here").read_text() == str(main)  # side B ran from there
    assert json.loads(output.read_text())["checkouts"] == {"B": str(checkout)}
    assert f"(gateway from {checkout})" in result.stdout


def test_bench_compare_refuses_prompt_words_out_of_range() -> None:
    result = run_shieldgate("bench", "compare", "--prompt-words", "-1")
    assert result.returncode == 2
    assert "--prompt-words must be 0-10000" in result.stderr


def test_bench_compare_refuses_a_checkout_without_the_package(tmp_path: Path) -> None:
    result = run_shieldgate("bench", "compare", "--a-checkout", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} holds no gateway package" in result.stderr


@pytest.mark.parametrize(
    ("flag", "message"),
    [("guard", "is not NAME=VALUE"), ("no_such_setting=1", "no such setting: no_such_setting")],
)
def test_bench_compare_refuses_what_is_not_a_setting(flag: str, message: str) -> None:
    result = run_shieldgate("bench", "compare", "--a", flag)
    assert result.returncode == 2
    assert message in result.stderr


def test_bench_startup_times_ready_and_the_first_answers(tmp_path: Path) -> None:
    """`shieldgate bench startup` starts a gateway and times /readyz and its first four answers."""
    output = tmp_path / "startup.json"
    result = run_shieldgate(
        "bench", "startup", "--runs", "1", "--output", str(output), timeout=300, check=True
    )
    figures = json.loads(output.read_text())
    (row,) = figures["runs"]
    assert set(row) == {"ready_s", "first_json_ms", "second_json_ms", "first_stream_ms", "second_stream_ms"}
    assert all(value > 0 for value in row.values())
    assert figures["median"] == row
    assert "start 1: ready_s " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--runs", "0"], "--runs must be 1-100"), (["--checkout", "."], "holds no gateway package")],
)
def test_bench_startup_refuses_bad_arguments(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_shieldgate("bench", "startup", *[str(tmp_path) if a == "." else a for a in args])
    assert result.returncode == 2
    assert message in result.stderr
