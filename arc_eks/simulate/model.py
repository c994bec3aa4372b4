"""The discrete-event model: jobs, runner pods, the runner autoscaler and the cluster-autoscaler.

Deterministic for a trace, a configuration and `Params.seed`. The rules, each with its source
(docs/scaling-model.md has the long form):

- Routing (GitHub): a job goes to a runner that has every one of its `runs-on` labels; pool
  runners carry `self-hosted` plus the pool's labels. Scope: a repository-scoped pool takes jobs of
  that repository, an organization-scoped one jobs of the organization's repositories (when the
  trace names the repository). The oldest waiting job goes first, to the runner idle longest.
- HRA (ARC controller v0.27.6, controllers/actions.summerwind.net/autoscaling.go and
  horizontal_runner_autoscaler_controller.go): every sync period, PercentageRunnersBusy takes
  busy / current desired replicas; at or above scaleUpThreshold desired = ceil(desired x
  scaleUpFactor), below scaleDownThreshold desired = floor(desired x scaleDownFactor), else
  unchanged. TotalNumberOfQueuedAndInProgressWorkflowRuns counts queued and in-progress jobs whose
  labels (self-hosted aside) the pool has, in the listed repositories. A suggestion of 0 falls
  back to min. Webhook capacity reservations (one per queued job, for the trigger's duration,
  the oldest removed when a job completes) are added; the sum is clamped to [min, max] (min from
  an active schedule); a decrease waits scaleDownDelaySecondsAfterScaleOut after the last increase.
- Runners are ephemeral: a pod runs one job, then is replaced while desired replicas stay. A scale
  down removes runners that are not busy (pending first, then starting, then idle).
- Pod start: scheduled on the ready node with the most free CPU (kube-scheduler's default
  LeastAllocated scoring), then image pull (cold on a node that never pulled this pool's image,
  else warm) and registration.
- cluster-autoscaler: every scan interval, pending pods that fit on no node (booting nodes
  counted) add nodes up to maxSize; a node boots in node_boot_seconds. A node is removed only when
  it holds no runner pod for scale-down-unneeded-time and no scale-up happened within
  scale-down-delay-after-add, never below minSize. A node with any runner pod (idle included)
  is never removed: runner pods are owned by ARC's Runner resource, a controller the autoscaler
  does not know (--skip-nodes-with-custom-controller-pods, default true), and mount emptyDir
  volumes (--skip-nodes-with-local-storage, default true).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from arc_eks.config.pool_spec import Schedule
from arc_eks.simulate.params import Params
from arc_eks.simulate.setup import LoadedStack, NodeGroupModel, PoolModel, duration_seconds
from arc_eks.simulate.trace import Job

PENDING, STARTING, IDLE, BUSY = "pending", "starting", "idle", "busy"

# Event kinds, in the order they are handled at the same instant.
_NODE_READY, _POD_READY, _JOB_DONE, _JOB_ARRIVE, _HRA, _LISTENER, _CA, _SAMPLE = range(8)


@dataclass
class Node:
    id: int
    group: NodeGroupModel
    ready: bool
    free_cpu: float
    free_memory: float
    created: float
    pods: set[int] = field(default_factory=set)
    images: dict[str, float] = field(default_factory=dict)
    """Pool key -> when its runner image is on the node (a pull in progress: in the future)."""
    empty_since: float | None = None


@dataclass
class Pod:
    id: int
    pool: PoolModel
    state: str
    since: float
    node: Node | None = None
    job: int | None = None
    cold: bool = False


@dataclass
class PoolState:
    model: PoolModel
    desired: int
    pods: dict[int, Pod] = field(default_factory=dict)
    last_scale_out: float | None = None
    reservations: deque[float] = field(default_factory=deque)
    """Expiry times of webhook capacity reservations, oldest first."""
    busy_seconds: float = 0.0
    idle_seconds: float = 0.0
    starting_seconds: float = 0.0


@dataclass
class JobRecord:
    job: Job
    pools: tuple[str, ...]
    """Keys of the pools that can take the job (empty: no pool matches)."""
    started: float | None = None
    pool: str | None = None


@dataclass
class Sample:
    t: float
    queued: dict[str, int]
    runners: dict[str, int]
    busy: dict[str, int]
    nodes: dict[str, int]


@dataclass
class Result:
    start: float
    end: float
    jobs: list[JobRecord]
    pools: dict[str, PoolState]
    node_seconds: dict[str, float]
    instance_types: dict[str, str]
    samples: list[Sample]
    nodes_max: dict[str, int]


def schedule_active(schedule: Schedule, t: float) -> bool:
    """Whether `t` falls in the schedule window or one of its recurrences (ARC's
    scheduledOverrides with recurrenceRule frequency Daily/Weekly/Monthly/Yearly and untilTime)."""
    start, end = schedule.start.timestamp(), schedule.end.timestamp()
    if schedule.until is not None and t > schedule.until.timestamp():
        return False
    if start <= t < end:
        return True
    if t < start or schedule.recurrence is None:
        return False
    if schedule.recurrence in ("Daily", "Weekly"):
        period = 86400.0 if schedule.recurrence == "Daily" else 7 * 86400.0
        k = math.floor((t - start) / period)
        return start + k * period <= t < end + k * period
    months = 1 if schedule.recurrence == "Monthly" else 12
    moment = datetime.fromtimestamp(t, UTC)
    base = schedule.start.astimezone(UTC)
    length = schedule.end - schedule.start
    span = (moment.year - base.year) * 12 + moment.month - base.month
    for k in range(span // months, span // months - 2, -1):
        shifted = _add_months(base, k * months)
        if shifted is not None and shifted.timestamp() <= t < (shifted + length).timestamp():
            return True
    return False


def _add_months(moment: datetime, months: int) -> datetime | None:
    total = moment.month - 1 + months
    try:
        return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)
    except ValueError:  # e.g. the 31st in a 30-day month: no occurrence that month
        return None


def effective_min(pool: PoolModel, t: float) -> int:
    for schedule in pool.schedules:
        if schedule_active(schedule, t):
            return schedule.min
    return pool.min


def pools_for(job: Job, pools: tuple[PoolModel, ...]) -> tuple[str, ...]:
    return tuple(p.key for p in pools if job_matches(job, p))


def job_matches(job: Job, pool: PoolModel) -> bool:
    if not set(job.labels) <= pool.labels:
        return False
    if not job.repository:
        return True
    if pool.scope_kind == "repository":
        return job.repository.lower() == pool.scope_value.lower()
    if pool.scope_kind == "organization":
        return job.repository.split("/", 1)[0].lower() == pool.scope_value.lower()
    return True


class Simulation:
    def __init__(self, loaded: LoadedStack, jobs: list[Job], params: Params) -> None:
        self.params = params
        self.loaded = loaded
        self.rng = random.Random(params.seed)
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.nodes: dict[int, Node] = {}
        self.node_ids = 0
        self.pod_ids = 0
        self.last_scale_up: dict[str, float] = {}
        self.node_seconds = dict.fromkeys(loaded.node_groups, 0.0)
        self.nodes_max = dict.fromkeys(loaded.node_groups, 0)
        self.pools = {p.key: PoolState(p, desired=0) for p in loaded.pools}
        self.records = [JobRecord(j, pools_for(j, loaded.pools)) for j in jobs]
        self.waiting: list[int] = []  # record indexes, queued order
        self.running: dict[str, int] = {}  # pool -> in-progress count (for the queued metric)
        self.samples: list[Sample] = []
        self.ca_armed = False
        mode = params.mode
        self.webhook = mode == "webhook" or (
            mode == "auto" and any(p.webhook_duration_seconds is not None for p in loaded.pools)
        )
        self.scale_set = mode == "scale-set"
        sync = params.sync_period_seconds
        self.sync = (
            sync if sync is not None else duration_seconds(loaded.stack.controller.sync_period)
        )

    # -- plumbing ---------------------------------------------------------------------------
    def push(self, t: float, kind: int, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, payload))

    def run(self, start: float | None = None, end: float | None = None) -> Result:
        jobs = [r.job for r in self.records]
        first = jobs[0].queued_at if jobs else 0.0
        last = max((j.queued_at + j.duration for j in jobs), default=first)
        self.start = start if start is not None else first - 3600.0
        self.end = end if end is not None else last + 3 * 3600.0
        self.now = self.start
        self._initial_state()
        for i, record in enumerate(self.records):
            self.push(record.job.queued_at, _JOB_ARRIVE, i)
        if not self.scale_set:
            for key in self.pools:
                self.push(self.start + self.sync, _HRA, key)
        self._arm_ca()
        self.push(self.start, _SAMPLE)
        while self.events and self.events[0][0] <= self.end:
            t, kind, _, payload = heapq.heappop(self.events)
            self._advance(t)
            self._handle(kind, payload)
        self._advance(self.end)
        return Result(
            start=self.start,
            end=self.end,
            jobs=self.records,
            pools=self.pools,
            node_seconds=self.node_seconds,
            instance_types={g.name: g.instance_type for g in self.loaded.node_groups.values()},
            samples=self.samples,
            nodes_max=self.nodes_max,
        )

    def _advance(self, t: float) -> None:
        dt = t - self.now
        if dt > 0:
            for node in self.nodes.values():
                self.node_seconds[node.group.name] += dt
            for state in self.pools.values():
                for pod in state.pods.values():
                    if pod.state == BUSY:
                        state.busy_seconds += dt
                    elif pod.state == IDLE:
                        state.idle_seconds += dt
                    elif pod.state == STARTING:
                        state.starting_seconds += dt
        self.now = t

    def _initial_state(self) -> None:
        """The stack as it stands before the trace: nodeGroup desiredSize ready nodes, each pool at
        its minimum with registered runners (images pulled where they run)."""
        for group in self.loaded.node_groups.values():
            for _ in range(group.initial_size):
                self._new_node(group, ready=True)
        for state in self.pools.values():
            state.desired = self._clamp(state, 0)
            self._reconcile(state)
        # The minimum runners are already up: their nodes exist and are ready.
        for group in self.loaded.node_groups.values():
            while (
                len([n for n in self.nodes.values() if n.group.name == group.name]) < group.max_size
            ):
                if not any(
                    p.state == PENDING and p.pool.node_group == group.name
                    for s in self.pools.values()
                    for p in s.pods.values()
                ):
                    break
                self._new_node(group, ready=True)
                self._schedule_pods()
        for state in self.pools.values():
            for pod in state.pods.values():
                if pod.state == STARTING:
                    pod.state, pod.since = IDLE, self.now
        self._update_nodes_max()

    # -- events ----------------------------------------------------------------------------
    def _handle(self, kind: int, payload: object) -> None:
        handlers = {
            _JOB_ARRIVE: self._job_arrive,
            _JOB_DONE: self._job_done,
            _POD_READY: self._pod_ready,
            _NODE_READY: self._node_ready,
            _HRA: self._hra_sync,
            _LISTENER: self._listener,
            _CA: self._ca_scan,
            _SAMPLE: self._sample_tick,
        }
        handlers[kind](payload)

    def _job_arrive(self, payload: object) -> None:
        assert isinstance(payload, int)
        record = self.records[payload]
        if not record.pools:
            return
        self.waiting.append(payload)
        for key in record.pools:
            state = self.pools[key]
            duration = self._webhook_duration(state)
            if self.scale_set:
                self.push(self.now + self.params.listener_latency_seconds, _LISTENER, key)
            elif duration is not None:
                state.reservations.append(self.now + duration)
                self._set_desired(state, self._hra_desired(state))
        self._assign()

    def _job_done(self, payload: object) -> None:
        assert isinstance(payload, tuple)
        key, pod_id = payload
        state = self.pools[key]
        pod = state.pods.pop(pod_id)
        self.running[key] -= 1
        self._free(pod)
        if self.webhook and state.reservations:
            state.reservations.popleft()
        if self.scale_set:
            self.push(self.now + self.params.listener_latency_seconds, _LISTENER, key)
        self._reconcile(state)

    def _pod_ready(self, payload: object) -> None:
        assert isinstance(payload, tuple)
        key, pod_id = payload
        pod = self.pools[key].pods.get(pod_id)
        if pod is not None and pod.state == STARTING:
            pod.state, pod.since = IDLE, self.now
            self._assign()

    def _node_ready(self, payload: object) -> None:
        assert isinstance(payload, int)
        node = self.nodes.get(payload)
        if node is not None:
            node.ready = True
            node.empty_since = self.now
            self._schedule_pods()
            self._arm_ca()

    def _hra_sync(self, payload: object) -> None:
        assert isinstance(payload, str)
        state = self.pools[payload]
        self._set_desired(state, self._hra_desired(state))
        self.push(self.now + self.sync, _HRA, payload)

    def _listener(self, payload: object) -> None:
        assert isinstance(payload, str)
        state = self.pools[payload]
        assigned = sum(1 for i in self.waiting if payload in self.records[i].pools)
        assigned += self.running.get(payload, 0)
        self._set_desired(
            state, self._clamp(state, effective_min(state.model, self.now) + assigned)
        )

    def _ca_scan(self, payload: object) -> None:
        del payload
        self.ca_armed = False
        if self._cluster_autoscaler():
            self._arm_ca(later=True)

    def _arm_ca(self, *, later: bool = False) -> None:
        """Make sure a scan is due at the autoscaler's next scan instant. The autoscaler scans
        every interval; scans that could change nothing (no pending pod, no empty node) are
        skipped, which gives the same result faster."""
        if self.ca_armed:
            return
        self.ca_armed = True
        interval = self.params.scan_interval_seconds
        if interval <= 0:
            raise ValueError("scan_interval_seconds must be > 0")
        elapsed = (self.now - self.start) / interval
        k = math.floor(elapsed) + 1 if later else math.ceil(elapsed)
        self.push(self.start + max(k, 1) * interval, _CA)

    def _sample_tick(self, payload: object) -> None:
        del payload
        self._sample()
        self.push(self.now + self.params.sample_seconds, _SAMPLE)

    # -- runner autoscaler ----------------------------------------------------------------------
    def _webhook_duration(self, state: PoolState) -> float | None:
        if not self.webhook:
            return None
        duration = state.model.webhook_duration_seconds
        return duration if duration is not None else 1800.0  # the config model's default, 30m

    def _clamp(self, state: PoolState, desired: int) -> int:
        return max(effective_min(state.model, self.now), min(state.model.max, desired))

    def _hra_desired(self, state: PoolState) -> int:
        pool, t = state.model, self.now
        while state.reservations and state.reservations[0] <= t:
            state.reservations.popleft()
        suggested = self._suggest(state)
        if suggested is None or suggested <= 0:
            suggested = effective_min(pool, t)
        return self._clamp(state, suggested + len(state.reservations))

    def _suggest(self, state: PoolState) -> int | None:
        metric = state.model.metric
        if metric == "PercentageRunnersBusy":
            return self._suggest_busy(state)
        if metric == "TotalNumberOfQueuedAndInProgressWorkflowRuns":
            return self._suggest_queued(state.model)
        return None  # WebhookOnly: no metric, min plus reservations

    @staticmethod
    def _suggest_busy(state: PoolState) -> int:
        pool = state.model
        before = state.desired or 1
        busy = sum(1 for p in state.pods.values() if p.state == BUSY)
        fraction = busy / before
        if fraction >= pool.scale_up_threshold:
            if pool.scale_up_adjustment:
                return before + pool.scale_up_adjustment
            return math.ceil(before * pool.scale_up_factor)
        if fraction < pool.scale_down_threshold:
            if pool.scale_down_adjustment:
                return before - pool.scale_down_adjustment
            return int(before * pool.scale_down_factor)
        return state.desired

    def _suggest_queued(self, pool: PoolModel) -> int:
        repos = {r.lower() for r in pool.repository_names}
        if pool.scope_kind == "repository":
            repos = {pool.scope_value.split("/", 1)[1].lower()}

        def counted(record: JobRecord) -> bool:
            job = record.job
            if not set(job.labels) - {"self-hosted"} <= pool.labels:
                return False
            name = job.repository.split("/", 1)[-1].lower() if job.repository else ""
            return not job.repository or name in repos

        queued = sum(1 for i in self.waiting if counted(self.records[i]))
        in_progress = sum(
            1
            for s in self.pools.values()
            for p in s.pods.values()
            if p.state == BUSY and p.job is not None and counted(self.records[p.job])
        )
        return queued + in_progress

    def _set_desired(self, state: PoolState, desired: int) -> None:
        t = self.now
        if desired > state.desired or state.last_scale_out is None:
            if desired > state.desired:
                state.last_scale_out = t
            state.desired = desired
        elif desired < state.desired:
            delay = self.params.scale_down_delay_seconds
            delay = state.model.scale_down_delay_seconds if delay is None else delay
            if self.scale_set or t >= (state.last_scale_out or self.start) + delay:
                state.desired = desired
        self._reconcile(state)

    def _reconcile(self, state: PoolState) -> None:
        """The RunnerDeployment controller: as many runner pods as desired; surplus runners that
        are not busy are removed (pending first, then starting, then the newest idle)."""
        pods = state.pods
        missing = state.desired - len(pods)
        for _ in range(missing):
            self.pod_ids += 1
            pods[self.pod_ids] = Pod(self.pod_ids, state.model, PENDING, self.now)
        if missing < 0:
            order = {PENDING: 0, STARTING: 1, IDLE: 2}
            removable = sorted(
                (p for p in pods.values() if p.state != BUSY),
                key=lambda p: (order[p.state], -p.since),
            )
            for pod in removable[:-missing]:
                del pods[pod.id]
                self._free(pod)
        if missing:
            self._schedule_pods()
            self._arm_ca()

    # -- scheduling and jobs ----------------------------------------------------------------
    def _schedule_pods(self) -> None:
        pending = sorted(
            (p for s in self.pools.values() for p in s.pods.values() if p.state == PENDING),
            key=lambda p: (p.since, p.id),
        )
        for pod in pending:
            fits = [
                n
                for n in self.nodes.values()
                if n.ready
                and n.group.name == pod.pool.node_group
                and n.free_cpu >= pod.pool.cpu_millis
                and n.free_memory >= pod.pool.memory_mib
            ]
            if not fits:
                continue
            node = max(fits, key=lambda n: (n.free_cpu, -n.id))
            node.free_cpu -= pod.pool.cpu_millis
            node.free_memory -= pod.pool.memory_mib
            node.pods.add(pod.id)
            node.empty_since = None
            pod.node, pod.state, pod.since = node, STARTING, self.now
            p = self.params
            pod.cold = pod.pool.key not in node.images
            if pod.cold:
                node.images[pod.pool.key] = self.now + p.image_pull_cold_seconds
            # A pull under way on the node is shared: the pod starts when the image is there.
            started = max(self.now + p.image_pull_warm_seconds, node.images[pod.pool.key])
            self.push(started + p.registration_seconds, _POD_READY, (pod.pool.key, pod.id))

    def _free(self, pod: Pod) -> None:
        node = pod.node
        if node is None:
            return
        node.free_cpu += pod.pool.cpu_millis
        node.free_memory += pod.pool.memory_mib
        node.pods.discard(pod.id)
        if not node.pods:
            node.empty_since = self.now
            self._arm_ca()
        pod.node = None
        self._schedule_pods()

    def _assign(self) -> None:
        if not self.waiting:
            return
        still: list[int] = []
        for index in self.waiting:
            record = self.records[index]
            idle = [
                p for key in record.pools for p in self.pools[key].pods.values() if p.state == IDLE
            ]
            if not idle:
                still.append(index)
                continue
            pod = min(idle, key=lambda p: (p.since, p.id))
            pod.state, pod.since, pod.job = BUSY, self.now, index
            record.started, record.pool = self.now, pod.pool.key
            self.running[pod.pool.key] = self.running.get(pod.pool.key, 0) + 1
            self.push(self.now + record.job.duration, _JOB_DONE, (pod.pool.key, pod.id))
        self.waiting = still

    # -- cluster-autoscaler ------------------------------------------------------------------
    def _new_node(self, group: NodeGroupModel, *, ready: bool) -> Node:
        self.node_ids += 1
        node = Node(self.node_ids, group, ready, group.cpu_millis, group.memory_mib, self.now)
        node.empty_since = self.now
        self.nodes[node.id] = node
        if not ready:
            p = self.params
            jitter = self.rng.uniform(-p.node_boot_jitter_seconds, p.node_boot_jitter_seconds)
            self.push(self.now + max(0.0, p.node_boot_seconds + jitter), _NODE_READY, node.id)
        return node

    def _cluster_autoscaler(self) -> bool:
        """One scan; returns whether a later scan may still act (pending pods, empty nodes)."""
        busy = False
        t, p = self.now, self.params
        for group in self.loaded.node_groups.values():
            nodes = [n for n in self.nodes.values() if n.group.name == group.name]
            pending = [
                pod
                for s in self.pools.values()
                if s.model.node_group == group.name
                for pod in s.pods.values()
                if pod.state == PENDING
            ]
            # Scale up: pack the pending pods onto booting nodes first, then new nodes.
            room = [[n.free_cpu, n.free_memory] for n in nodes if not n.ready]
            added = 0
            for pod in sorted(pending, key=lambda x: (x.since, x.id)):
                need = (pod.pool.cpu_millis, pod.pool.memory_mib)
                spot = next((r for r in room if r[0] >= need[0] and r[1] >= need[1]), None)
                if spot is None:
                    if len(nodes) + added >= group.max_size:
                        continue
                    spot = [group.cpu_millis, group.memory_mib]
                    room.append(spot)
                    added += 1
                spot[0] -= need[0]
                spot[1] -= need[1]
            for _ in range(added):
                self._new_node(group, ready=False)
            busy = busy or bool(pending)
            if added:
                self.last_scale_up[group.name] = t
                self._update_nodes_max()
                busy = True
                continue
            # Scale down: empty ready nodes, unneeded long enough, not right after a scale-up.
            if len(nodes) > group.min_size and any(n.ready and not n.pods for n in nodes):
                busy = True
            if (
                t - self.last_scale_up.get(group.name, -math.inf)
                < p.scale_down_delay_after_add_seconds
            ):
                continue
            count = len(nodes)
            for node in sorted(nodes, key=lambda n: -n.id):
                if count <= group.min_size:
                    break
                if (
                    node.ready
                    and not node.pods
                    and node.empty_since is not None
                    and t - node.empty_since >= p.scale_down_unneeded_seconds
                ):
                    del self.nodes[node.id]
                    count -= 1
        return busy

    def _update_nodes_max(self) -> None:
        for name in self.nodes_max:
            count = sum(1 for n in self.nodes.values() if n.group.name == name)
            self.nodes_max[name] = max(self.nodes_max[name], count)

    def _sample(self) -> None:
        queued = {key: 0 for key in self.pools}
        for i in self.waiting:
            queued[self.records[i].pools[0]] += 1
        self.samples.append(
            Sample(
                t=self.now,
                queued=queued,
                runners={k: len(s.pods) for k, s in self.pools.items()},
                busy={
                    k: sum(1 for p in s.pods.values() if p.state == BUSY)
                    for k, s in self.pools.items()
                },
                nodes={
                    g: sum(1 for n in self.nodes.values() if n.group.name == g)
                    for g in self.loaded.node_groups
                },
            )
        )


def simulate(
    loaded: LoadedStack,
    jobs: list[Job],
    params: Params,
    *,
    start: float | None = None,
    end: float | None = None,
) -> Result:
    return Simulation(loaded, jobs, params).run(start, end)
