"""Drive the real `memory` binary with the official Python MCP SDK (`pip install mcp`).

A client that is not our code: if the server strays from the protocol, this is where it shows.
The same agent loop runs over stdio (`memory mcp`) and over streamable HTTP (`memory serve`,
with a bearer token): initialize, tools/list, start_episode, log_step (several),
complete_episode, retrieve_context finds the episode, record_feedback, memory_stats, and a
bad call that must come back as a tool error.

Usage: python test_mcp_client.py [path/to/memory]   (default: target/debug/memory)
Prints one line per scenario and a closing "N passed, N failed"; exits non-zero on failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[4]
TOOLS = {
    "retrieve_context",
    "start_episode",
    "log_step",
    "complete_episode",
    "record_feedback",
    "search_episodes",
    "get_episode",
    "list_patterns",
    "delete_episode",
    "memory_stats",
}
TOKEN = "python-sdk-token-0123456789abcdef"
STEP_TIMEOUT = 60  # seconds; a hung server fails the test instead of hanging CI


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


async def call(session: ClientSession, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Calls a tool that must succeed; returns its structured content."""
    result = await asyncio.wait_for(session.call_tool(tool, args), STEP_TIMEOUT)
    text = result.content[0].text if result.content else ""
    check(not result.is_error, f"{tool} failed: {text}")
    check(isinstance(result.structured_content, dict), f"{tool}: no structured content")
    return result.structured_content


async def agent_loop(session: ClientSession, transport: str) -> None:
    init = await asyncio.wait_for(session.initialize(), STEP_TIMEOUT)
    check(init.server_info.name == "self-learning-memory", f"server name: {init.server_info}")
    check(init.capabilities.tools is not None, "tools capability advertised")

    listed = await asyncio.wait_for(session.list_tools(), STEP_TIMEOUT)
    names = {t.name for t in listed.tools}
    check(names == TOOLS, f"tools/list: {sorted(names)}")
    for tool in listed.tools:
        check(tool.input_schema.get("type") == "object", f"{tool.name} schema")
        check(len(tool.description or "") > 100, f"{tool.name} description")

    task = f"Fix the flaky checkout test that times out in CI ({transport})"
    started = await call(
        session,
        "start_episode",
        {
            "task": task,
            "task_type": "debugging",
            "context": {"domain": "web-api", "language": "rust", "tags": ["ci"]},
        },
    )
    episode = started["episode_id"]
    steps = [
        {"tool": "cargo test", "action": "reproduce", "status": "timeout", "latency_ms": 60000},
        {
            "tool": "cargo test",
            "action": "rerun with output",
            "status": "error",
            "error": "test checkout ... FAILED: timeout after 60s",
        },
        {"tool": "read_file", "action": "inspect the test", "status": "success", "output": "uses a shared port"},
        {
            "tool": "cargo test",
            "action": "run single-threaded",
            "status": "success",
            "output": "test result: ok",
            "parameters": {"args": ["--test-threads=1"]},
        },
    ]
    for i, step in enumerate(steps, start=1):
        logged = await call(session, "log_step", {"episode_id": episode, **step})
        check(logged["seq"] == i, f"step seq {logged['seq']} != {i}")

    done = await call(
        session,
        "complete_episode",
        {"episode_id": episode, "outcome": "success", "verdict": "passes single-threaded"},
    )
    check(done["steps"] == len(steps), f"completed with {done['steps']} steps")
    check(0.0 < done["reward"]["total"] <= 1.0, f"reward {done['reward']}")

    pack_result = await asyncio.wait_for(
        session.call_tool(
            "retrieve_context",
            {"query": "checkout test times out in CI", "context": {"domain": "web-api"}},
        ),
        STEP_TIMEOUT,
    )
    check(not pack_result.is_error, "retrieve_context failed")
    pack = pack_result.structured_content
    markdown = pack_result.content[0].text
    check(episode in [h["id"] for h in pack["hits"]], "retrieve_context finds the episode")
    check(pack["session_id"] in markdown, "the Markdown pack names its session")
    check("checkout" in markdown, "the Markdown pack shows the task")

    recommended = [p["id"] for p in pack["patterns"]][:1]
    feedback = await call(
        session,
        "record_feedback",
        {"session_id": pack["session_id"], "applied": recommended, "outcome": "success"},
    )
    check(feedback["applied"] == recommended, f"feedback {feedback}")

    bad = await asyncio.wait_for(
        session.call_tool("log_step", {"episode_id": episode, "tool": "x", "status": "done?"}),
        STEP_TIMEOUT,
    )
    check(bad.is_error is True, "a bad call is a tool error")
    check("status" in bad.content[0].text, f"the error names the field: {bad.content[0].text}")

    resources = await asyncio.wait_for(session.list_resources(), STEP_TIMEOUT)
    uris = [str(r.uri) for r in resources.resources]
    check(any(u.endswith(f"/episodes/{episode}") for u in uris), f"resources/list: {uris}")
    read = await asyncio.wait_for(session.read_resource(uris[0]), STEP_TIMEOUT)
    check(task in read.contents[0].text, "resources/read returns the episode")

    stats = await call(session, "memory_stats", {})
    check(stats["counts"]["episodes"] == 1, f"namespace counts {stats['counts']}")
    check(stats["counts"]["success"] == 1, f"namespace counts {stats['counts']}")
    check(stats["memory"]["storage"]["steps"] == len(steps), f"store {stats['memory']['storage']}")
    log_step = next(t for t in stats["tools"] if t["tool"] == "log_step")
    check(log_step["count"] == len(steps) + 1 and log_step["errors"] == 1, f"log_step calls {log_step}")


async def over_stdio(binary: str, db: Path) -> None:
    params = StdioServerParameters(
        command=binary,
        args=["--db", str(db), "--namespace", "python-stdio", "mcp"],
        env={"MEMORY_LOG": "warn"},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await agent_loop(session, "stdio")


async def over_http(binary: str, db: Path | str, extra: tuple[str, ...] = ()) -> None:
    server = subprocess.Popen(
        [binary, "--db", str(db), *extra, "serve", "--listen", "127.0.0.1:0", "--auth-token",
         TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(server.stderr.readline), STEP_TIMEOUT)
        # The line names the database too, which may itself be an http:// URL.
        words = [w.rstrip(";") for w in line.split()]
        urls = [w for w in words if w.startswith("http://") and w.endswith("/mcp")]
        check(bool(urls), f"no address in: {line!r}")
        url = urls[0]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=STEP_TIMEOUT) as http:
            anonymous = await httpx2.AsyncClient().get(url.replace("/mcp", "/health"))
            check(anonymous.status_code == 401, f"no token: {anonymous.status_code}")
            async with streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await agent_loop(session, "http")
            metrics = await http.get(url.replace("/mcp", "/metrics"))
            check(metrics.status_code == 200, f"/metrics: {metrics.status_code}")
            check("memory_episodes 1" in metrics.text, "/metrics counts the episode")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    check(server.returncode == 0, f"memory serve exited with {server.returncode}")


async def over_http_on_sqld(binary: str, db: Path, replica: bool = False) -> None:
    """`memory serve --db http://…`: the same loop with the memory on a libSQL server (sqld),
    read directly or through an embedded replica (`--replica FILE`)."""
    sqld = os.environ["MEMORY_TEST_SQLD"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sqld, "--db-path", str(db.parent / "sqld-data"), "--http-listen-addr",
         f"127.0.0.1:{port}", "--no-welcome"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                check(time.monotonic() < deadline, f"sqld did not listen on port {port}")
                await asyncio.sleep(0.05)
        extra = ("--replica", str(db.parent / "replica.db")) if replica else ()
        await over_http(binary, f"http://127.0.0.1:{port}", extra)
        if replica:
            check((db.parent / "replica.db").exists(), "the replica file was made")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "target" / "debug" / "memory")
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        print(f"no memory binary at {binary}; build it with `cargo build -p memory-cli`")
        return 2
    scenarios = [("stdio", over_stdio), ("streamable HTTP", over_http)]
    if os.environ.get("MEMORY_TEST_SQLD"):
        scenarios.append(("streamable HTTP, memory on sqld", over_http_on_sqld))
        scenarios.append((
            "streamable HTTP, memory on sqld through an embedded replica",
            lambda binary, db: over_http_on_sqld(binary, db, replica=True),
        ))
    elif os.environ.get("MEMORY_REQUIRE_SQLD"):
        print("FAILED  MEMORY_REQUIRE_SQLD is set but MEMORY_TEST_SQLD names no sqld")
        return 1
    else:
        print("skipped streamable HTTP on sqld: MEMORY_TEST_SQLD is not set")
    passed = failed = 0
    for name, scenario in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                asyncio.run(asyncio.wait_for(scenario(binary, Path(tmp) / "memory.db"), 300))
                print(f"ok      {name}: full agent loop through the official MCP client")
                passed += 1
            except Exception:  # noqa: BLE001 - report every failure and keep going
                print(f"FAILED  {name}:")
                traceback.print_exc()
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
