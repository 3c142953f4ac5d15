"""Sorting py-spy's samples into the parts of the request path."""

from __future__ import annotations

from gateway.bench.profile import PARTS, part_of, tally

MAIN = "thread (101): MainThread"
WORKER = "thread (102): asyncio_0"


def test_model_samples_count_wherever_they_run() -> None:
    run = "Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:406)"
    score = "GuardModel.score (gateway/guard/model.py:98)"
    assert part_of(WORKER, ["_worker (concurrent/futures/thread.py:81)", score, run]) == PARTS[0]
    assert part_of(WORKER, ["_worker (concurrent/futures/thread.py:81)", score]) == PARTS[1]


def test_event_loop_samples_are_split_by_what_the_request_is_doing() -> None:
    handler = ["Server.run (uvicorn/server.py:67)", "chat_completions (gateway/api/inference.py:49)"]
    upstream = [*handler, "Upstream.chat (gateway/upstream.py:83)", "acompletion (litellm/main.py:426)"]
    scanning = [*handler, "PolicyHooks._decide (gateway/pipeline.py:143)"]
    assert part_of(MAIN, upstream) == PARTS[2]
    assert part_of(MAIN, scanning) == PARTS[3]
    assert part_of(MAIN, [*handler, "AuditLog.write (gateway/audit/writer.py:80)"]) == PARTS[4]
    assert part_of(MAIN, handler) == PARTS[5]
    native_loop = [
        "<module> (shieldgate:8)",
        "main (gateway/cli.py:520)",
        "Runner.run (asyncio/runners.py:118)",
    ]
    assert part_of(MAIN, native_loop) == PARTS[6]
    assert part_of("thread (103): audit-writer", ["AuditLog._run (gateway/audit/writer.py:105)"]) == PARTS[4]
    assert (
        part_of("thread (104): Thread-3", ["run (threading.py:975)", "Thread.work (somelib/work.py:12)"])
        == PARTS[7]
    )


def test_litellm_work_outside_the_request_counts_as_upstream() -> None:
    logging = ["Logging.async_success_handler (litellm_logging.py:3266)"]
    assert part_of(MAIN, ["Server.run (uvicorn/server.py:67)", *logging]) == PARTS[2]
    assert (
        part_of(
            WORKER,
            ["_worker (concurrent/futures/thread.py:83)", "get_model_cost_key (litellm/utils.py:5890)"],
        )
        == PARTS[2]
    )


def test_threads_that_wait_are_not_counted() -> None:
    assert (
        part_of(MAIN, ["Server.run (uvicorn/server.py:67)", "EpollSelector.select (selectors.py:468)"])
        is None
    )
    assert part_of(WORKER, ["_worker (concurrent/futures/thread.py:81)"]) is None
    assert part_of(WORKER, []) is None


def test_tally_adds_counts_and_skips_lines_that_are_not_samples() -> None:
    lines = [
        f"{MAIN};Server.run (uvicorn/server.py:67);EpollSelector.select (selectors.py:468) 50\n",
        f"{MAIN};Server.run (uvicorn/server.py:67) 7\n",
        f"{MAIN};Upstream.chat (gateway/upstream.py:83) 5\n",
        f"{MAIN};Server.run (uvicorn/server.py:67) 3\n",
        "\n",
        "not a sample\n",
    ]
    counts = tally(lines)
    assert counts == {PARTS[5]: 10, PARTS[2]: 5}
