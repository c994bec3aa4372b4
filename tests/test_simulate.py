"""The scaling model against hand-computed cases, and end to end on the shipped trace.

Fixture stack and team: tests/fixtures/simulate/ (not the shipped stacks/ and teams/).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arc_eks.errors import ConfigError
from arc_eks.simulate import report
from arc_eks.simulate.__main__ import main
from arc_eks.simulate.model import Simulation, schedule_active, simulate
from arc_eks.simulate.params import Params
from arc_eks.simulate.setup import LoadedStack, Setting, load
from arc_eks.simulate.trace import Job, TraceError, format_trace, parse_trace, read_trace

FIXTURE = Path(__file__).parent / "fixtures" / "simulate"
SHIPPED_TRACE = Path(__file__).resolve().parents[1] / "examples" / "traces" / "week.csv"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC).timestamp()  # a Monday
WEB = ("linux", "self-hosted", "web", "x64")
PAYMENTS = ("linux", "payments", "self-hosted", "x64")
# No jitter: the hand-computed figures below are exact.
P = Params(node_boot_jitter_seconds=0.0, mode="hra")


@pytest.fixture(scope="module")
def loaded() -> LoadedStack:
    return load(FIXTURE, "sim")


def only(loaded: LoadedStack, key: str, **changes: object) -> LoadedStack:
    pool = next(p for p in loaded.pools if p.key == key)
    return dataclasses.replace(loaded, pools=(dataclasses.replace(pool, **changes),))


def test_pools_read_through_the_config_loaders(loaded: LoadedStack) -> None:
    pools = {p.key: p for p in loaded.pools}
    build, ci = pools["alpha-build"], pools["alpha-ci"]
    # dind: the runner's request plus the sidecar's default (500m+250m, 1Gi+512Mi).
    assert (build.cpu_millis, build.memory_mib) == (750, 1536)
    assert (ci.cpu_millis, ci.memory_mib) == (500, 1024)
    assert build.labels == frozenset(PAYMENTS)
    assert build.node_group != ci.node_group  # dind pools never share nodes with unprivileged
    group = loaded.node_groups[ci.node_group]
    # t3a.large: 1780m CPU left after reservations and DaemonSets -> 3 x 500m, 2 x 750m.
    assert ci.runners_per_node(group) == 3
    assert build.runners_per_node(loaded.node_groups[build.node_group]) == 2
    assert (group.min_size, group.max_size, group.initial_size) == (0, 3, 0)


def test_one_job_on_an_empty_cluster_waits_boot_pull_and_registration(
    loaded: LoadedStack,
) -> None:
    # min 0, queued-runs metric. The job arrives at an HRA sync; the autoscaler sees the pending
    # pod in the same scan; node boot, cold pull, registration follow.
    stack = only(loaded, "alpha-build")
    job = Job(T0 + 60, 300, PAYMENTS, "acme/app")
    result = simulate(stack, [job], P, start=T0, end=T0 + 3600)
    wait = result.jobs[0].started - job.queued_at
    expected = P.node_boot_seconds + P.image_pull_cold_seconds + P.registration_seconds
    assert wait == pytest.approx(expected)
    assert expected == 170


def test_job_between_syncs_also_waits_for_the_next_sync(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-build")
    job = Job(T0 + 75, 300, PAYMENTS, "acme/app")  # next sync at T0 + 120
    result = simulate(stack, [job], P, start=T0, end=T0 + 3600)
    assert result.jobs[0].started - job.queued_at == pytest.approx(45 + 170)


def test_queued_metric_ignores_repositories_it_does_not_list(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-build")
    job = Job(T0 + 60, 300, PAYMENTS, "acme/unlisted")
    result = simulate(stack, [job], P, start=T0, end=T0 + 3600)
    assert result.jobs[0].started is None  # routed to the pool, but ARC never scales for it


def test_warm_pool_waits_only_for_registration(loaded: LoadedStack) -> None:
    # min 1 runner, registered: the first job starts at once. The runner is ephemeral: its
    # replacement starts on the same node with the image already there, so a job queued the
    # moment the first one ends waits container start + registration only.
    stack = only(loaded, "alpha-ci", min=1, max=1)
    first = Job(T0 + 10, 100, WEB)
    second = Job(T0 + 110, 100, WEB)
    result = simulate(stack, [first, second], P, start=T0, end=T0 + 3600)
    assert result.jobs[0].started == first.queued_at
    wait = result.jobs[1].started - second.queued_at
    assert wait == pytest.approx(P.image_pull_warm_seconds + P.registration_seconds)
    no_start = dataclasses.replace(P, image_pull_warm_seconds=0.0)
    result = simulate(stack, [first, second], no_start, start=T0, end=T0 + 3600)
    assert result.jobs[1].started - second.queued_at == pytest.approx(P.registration_seconds)


def test_burst_above_max_queues(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-ci", min=4, max=4)
    jobs = [Job(T0 + 10, 600, WEB) for _ in range(10)]
    result = simulate(stack, jobs, P, start=T0, end=T0 + 7200)
    starts = sorted(r.started - r.job.queued_at for r in result.jobs)
    assert starts[:4] == [0, 0, 0, 0]
    # The other six wait for a runner to finish (600 s) and its replacement to register.
    assert all(s >= 600 + P.registration_seconds for s in starts[4:])
    assert max(sum(s.busy.values()) for s in result.samples) == 4
    figures = report.figures(result, P)
    assert figures.total.waited_over_threshold == 6


def test_percentage_runners_busy_steps(loaded: LoadedStack) -> None:
    stack = only(
        loaded,
        "alpha-ci",
        min=1,
        max=10,
        scale_up_threshold=0.75,
        scale_down_threshold=0.25,
        scale_up_factor=2.0,
        scale_down_factor=0.5,
    )
    sim = Simulation(stack, [], P)
    sim.run(start=T0, end=T0)
    state = sim.pools["alpha-ci"]
    state.desired = 4
    sim._reconcile(state)
    for busy, expected in ((3, 8), (2, 4), (0, 2)):
        pods = list(state.pods.values())
        for i, pod in enumerate(pods):
            pod.state = "busy" if i < busy else "idle"
        assert sim._suggest(state) == expected, busy
        # (3 busy of 4 = 0.75 >= 0.75: x2; 0.5: unchanged; 0 < 0.25: x0.5)


def test_scale_down_delay_holds_a_decrease(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-ci", min=1, max=4)
    sim = Simulation(stack, [], P)
    sim.run(start=T0, end=T0)
    state = sim.pools["alpha-ci"]
    sim._set_desired(state, 3)
    sim.now = T0 + 299
    sim._set_desired(state, 1)
    assert state.desired == 3
    sim.now = T0 + 300
    sim._set_desired(state, 1)
    assert state.desired == 1


def test_nodes_with_idle_runners_stay_empty_nodes_go(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-build")  # min 0, 2 runners per node
    jobs = [Job(T0 + 60, 120, PAYMENTS, "acme/app") for _ in range(3)]
    result = simulate(stack, jobs, P, start=T0, end=T0 + 6 * 3600)
    group = stack.pools[0].node_group
    assert result.nodes_max[group] == 2
    assert result.samples[-1].nodes[group] == 0
    # Both nodes were up from the scale-up until the runners were gone for the delay + unneeded
    # time (the runners go after the HRA's scale-down delay).
    assert result.node_seconds[group] < 2 * 3600

    held = only(loaded, "alpha-ci", min=2)  # 2 idle runners forever: their node is never removed
    result = simulate(held, [], P, start=T0, end=T0 + 6 * 3600)
    group = held.pools[0].node_group
    assert result.samples[-1].nodes[group] == 1
    assert result.node_seconds[group] == pytest.approx(6 * 3600)


def test_webhook_scale_up_skips_the_sync_wait(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-build", webhook_duration_seconds=1800.0)
    job = Job(T0 + 75, 300, PAYMENTS, "acme/app")
    webhook = simulate(stack, [job], dataclasses.replace(P, mode="auto"), start=T0, end=T0 + 3600)
    # Scaled at once; the autoscaler's next scan is at T0 + 80.
    assert webhook.jobs[0].started - job.queued_at == pytest.approx(5 + 170)


def test_scale_set_mode(loaded: LoadedStack) -> None:
    stack = only(loaded, "alpha-build")
    job = Job(T0 + 75, 300, PAYMENTS, "acme/app")
    params = dataclasses.replace(P, mode="scale-set")
    result = simulate(stack, [job], params, start=T0, end=T0 + 3600)
    # Listener patch after 1 s, next scan at T0 + 80.
    assert result.jobs[0].started - job.queued_at == pytest.approx(5 + 170)


def test_routing_by_labels_and_scope(loaded: LoadedStack) -> None:
    jobs = [
        Job(T0 + 10, 60, ("self-hosted", "linux", "gpu")),
        Job(T0 + 10, 60, WEB, "other-org/app"),
        Job(T0 + 10, 60, ("self-hosted", "web")),
    ]
    result = simulate(loaded, jobs, P, start=T0, end=T0 + 3600)
    assert [r.pools for r in result.jobs] == [(), (), ("alpha-ci",)]
    assert report.figures(result, P).unroutable_jobs == 2


def test_weekly_schedule_recurs() -> None:
    from arc_eks.config.pool_spec import Schedule

    s = Schedule(
        name="weekend",
        start=datetime(2026, 1, 3, tzinfo=UTC),
        end=datetime(2026, 1, 5, tzinfo=UTC),
        recurrence="Weekly",
        min=0,
    )
    assert schedule_active(s, datetime(2026, 11, 7, 12, tzinfo=UTC).timestamp())  # Saturday
    assert not schedule_active(s, datetime(2026, 11, 9, 12, tzinfo=UTC).timestamp())  # Monday
    assert not schedule_active(s, datetime(2025, 12, 27, 12, tzinfo=UTC).timestamp())  # before


def test_set_goes_through_the_loaders() -> None:
    changed = load(FIXTURE, "sim", settings=[Setting.parse("alpha/ci.autoscaling.min=3")])
    assert {p.key: p.min for p in changed.pools}["alpha-ci"] == 3
    with pytest.raises(ConfigError, match="PercentageRunnersBusy"):
        load(FIXTURE, "sim", settings=[Setting.parse("alpha/ci.autoscaling.min=0")])
    stack = load(FIXTURE, "sim", settings=[Setting.parse("runnerNodes.maxSize=5")])
    assert {g.max_size for g in stack.node_groups.values()} == {5}
    with pytest.raises(ValueError, match="no pool"):
        load(FIXTURE, "sim", settings=[Setting.parse("alpha/nope.autoscaling.min=1")])


def test_trace_round_trip_and_errors() -> None:
    jobs = [Job(T0, 12, WEB, "acme/web"), Job(T0 + 5, 3.5, PAYMENTS)]
    assert parse_trace(format_trace(jobs)) == jobs
    bad = "queued_at,duration_seconds,labels,repository\n2026-11-02T10:00:00,5,web,\n"
    with pytest.raises(TraceError, match="row 2: queued_at with a UTC offset"):
        parse_trace(bad)
    with pytest.raises(TraceError, match="missing: labels"):
        parse_trace("queued_at,duration_seconds\n")


def test_end_to_end_on_the_shipped_trace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["--stack", "sim", "--trace", str(SHIPPED_TRACE), "--project-dir", str(FIXTURE)]
    html = tmp_path / "plot.html"
    assert main([*argv, "--json", "--set", "alpha/ci.autoscaling.max=2", "--html", str(html)]) == 0
    out = json.loads(capsys.readouterr().out)
    base, alt = out["scenarios"]["baseline"], out["scenarios"]["with --set"]
    jobs = read_trace(SHIPPED_TRACE)
    web = sum(1 for j in jobs if "web" in j.labels)
    assert base["pools"]["alpha-ci"]["jobs"] == web
    assert base["unroutable_jobs"] == sum(
        1 for j in jobs if not {"web", "payments"} & set(j.labels)
    )
    # Fewer runners allowed: longer waits, fewer idle runner-hours.
    assert alt["pools"]["alpha-ci"]["wait_p95"] > base["pools"]["alpha-ci"]["wait_p95"]
    assert alt["pools"]["alpha-ci"]["runner_hours_busy"] == pytest.approx(
        base["pools"]["alpha-ci"]["runner_hours_busy"]
    )
    assert base["cost_total_usd"] > 0
    assert "<svg" in html.read_text()
    # Deterministic: the same run prints the same figures.
    assert main([*argv, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["scenarios"]["baseline"]
    assert again == base
    assert main([*argv]) == 0
    text = capsys.readouterr().out
    assert "queue wait p95 (s)" in text and "pool alpha-build" in text


def test_cli_refuses_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["--stack", "sim", "--trace", str(SHIPPED_TRACE), "--project-dir", str(FIXTURE)]
    assert main([*argv, "--param", "nope=1"]) == 2
    assert "unknown model parameter" in capsys.readouterr().err
    assert main([*argv, "--set", "alpha/ci.autoscaling.min=0"]) == 2
    assert "min >= 1" in capsys.readouterr().err
    missing = tmp_path / "none.csv"
    assert main(["--stack", "sim", "--trace", str(missing), "--project-dir", str(FIXTURE)]) == 2


def test_params_refuse_periods_that_never_advance() -> None:
    with pytest.raises(ValueError, match="scan_interval_seconds='0': expected a number > 0"):
        Params().with_overrides({"scan_interval_seconds": "0"})
    with pytest.raises(ValueError, match="node_boot_seconds='-1': expected a number >= 0"):
        Params().with_overrides({"node_boot_seconds": "-1"})
    with pytest.raises(ValueError, match="mode='x': expected one of"):
        Params().with_overrides({"mode": "x"})
    assert Params().with_overrides({"node_boot_seconds": "90"}).node_boot_seconds == 90
