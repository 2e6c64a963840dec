"""The warm pool's rules: which jobs it serves, how far it fills within the host, how it
shrinks, and that its sandboxes are hardened like a job's."""

from collections import Counter
from pathlib import Path

import pytest

from jobyard_contracts import NetworkPolicy, Runtime, SandboxStart, WireNames
from jobyard_sandbox_manager.domain import pool, sandboxes
from jobyard_sandbox_manager.domain.pool import PoolKey, PoolPolicy
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

NAMES = WireNames("t")
POLICY = PoolPolicy(
    sizes={"base": 2, "minimal": 1},
    networks=(NetworkPolicy.NONE,),
    max_idle=8,
    idle_size=1,
    idle_seconds=600,
    memory_mb=64,
)


def host(runtime: Runtime = Runtime.RUNC) -> sandboxes.HostPolicy:
    return sandboxes.HostPolicy(
        host_cpus=2,
        pids_limit=512,
        images={"base": "jobyard/sandbox-base:latest", "minimal": "jobyard/sandbox-minimal:latest"},
        networks={NetworkPolicy.NONE: "none", NetworkPolicy.INTERNET: "host"},
        persistent_network="host",
        runtime=runtime,
        sandbox_user="1000:1000",
        default_disk_mb=1024,
    )


def placed(runtime: Runtime = Runtime.RUNC, **overrides):
    fields = {"image": "base", "network": NetworkPolicy.NONE} | overrides
    job = make_job(**fields)
    return sandboxes.place_container(job, NAMES, "h1", runtime, 0).job


BASE = PoolKey("base", Runtime.RUNC, NetworkPolicy.NONE)
MINIMAL = PoolKey("minimal", Runtime.RUNC, NetworkPolicy.NONE)


def test_an_ordinary_job_is_served_by_the_pool_of_its_image_runtime_and_network():
    assert pool.pool_for(placed(), host(), POLICY) == BASE
    assert pool.pool_for(placed(image="minimal"), host(), POLICY) == MINIMAL
    explicit_default_disk = placed(resources={"vcpus": 2, "memory_mb": 2048, "disk_mb": 1024})
    assert pool.pool_for(explicit_default_disk, host(), POLICY) == BASE


@pytest.mark.parametrize(
    "overrides",
    [
        {"stateful": True},
        {"persistent": True},
        {"ipv6_lease": "lease-1"},
        {"network": NetworkPolicy.INTERNET},
        {"image": "rstudio"},
        {"resources": {"vcpus": 1, "memory_mb": 512, "disk_mb": 4096}},
    ],
    ids=["stateful", "persistent", "ipv6", "internet", "uncommon-image", "other-disk"],
)
def test_jobs_the_pool_cannot_serve_take_the_cold_path(overrides):
    assert pool.pool_for(placed(**overrides), host(), POLICY) is None


def test_gvisor_hosts_and_re_created_sandboxes_keep_no_warm_start():
    assert pool.pool_for(placed(Runtime.GVISOR), host(Runtime.GVISOR), POLICY) is None
    assert POLICY.keys(host(Runtime.GVISOR)) == []
    job = placed()
    second = job.model_copy(
        update={"container": job.container.model_copy(update={"generation": 2})}
    )
    assert pool.pool_for(second, host(), POLICY) is None


def test_pools_fill_to_their_sizes_within_the_hosts_room():
    wanted = pool.members_wanted(POLICY, host(), Counter(), set(), 0, 16)
    assert Counter(wanted) == Counter({BASE: 2, MINIMAL: 1})
    assert pool.members_wanted(POLICY, host(), Counter({BASE: 1}), set(), 0, 16) == [
        BASE,
        MINIMAL,
    ]
    # A host nearly full of jobs keeps only what fits beside them, a full one none.
    assert len(pool.members_wanted(POLICY, host(), Counter(), set(), 14, 16)) == 2
    assert pool.members_wanted(POLICY, host(), Counter({BASE: 1}), set(), 15, 16) == []


def test_the_host_cap_on_idle_members_holds_over_all_pools():
    capped = PoolPolicy(
        sizes={"base": 4, "minimal": 4},
        networks=(NetworkPolicy.NONE,),
        max_idle=3,
        idle_size=1,
        idle_seconds=600,
        memory_mb=64,
    )
    assert len(pool.members_wanted(capped, host(), Counter(), set(), 0, 16)) == 3
    assert pool.members_wanted(capped, host(), Counter({BASE: 3}), set(), 0, 16) == []


def test_a_quiet_pool_shrinks_to_its_idle_size_and_refills_no_further():
    idle = Counter({BASE: 2, MINIMAL: 1})
    assert pool.members_surplus(POLICY, idle, {BASE, MINIMAL}) == Counter({BASE: 1})
    assert pool.members_wanted(POLICY, host(), Counter({BASE: 1}), {BASE}, 0, 16) == [MINIMAL]


def test_a_member_is_hardened_like_a_job_sandbox_at_the_pools_size(tmp_path: Path):
    name = pool.member_name(NAMES, "h1", "abcd")
    spec = pool.member_spec(
        NAMES,
        "h1",
        host(),
        POLICY,
        BASE,
        name,
        disk=tmp_path,
        inbox=tmp_path / "inbox",
        runner=tmp_path / "runner.py",
    )
    assert name.startswith(pool.member_prefix(NAMES, "h1"))
    assert (spec.user, spec.read_only, spec.drop_capabilities) == ("1000:1000", True, True)
    assert (spec.network_mode, spec.pids_limit) == ("none", 512)
    assert (spec.memory_bytes, spec.cpu_quota_us, spec.nano_cpus) == (64 * 2**20, 100_000, 0)
    assert spec.labels[pool.POOL_LABEL] == "base.runc.none"
    assert "jobyard.job_id" not in spec.labels
    assert spec.workspace_volume is None


def test_a_claim_applies_the_jobs_cpus_capped_at_the_hosts_and_its_memory():
    job = placed(resources={"vcpus": 4, "memory_mb": 1024})
    limits = pool.claim_limits(job, host(), POLICY)
    assert limits is not None
    assert (limits.cpu_quota_us, limits.memory_bytes) == (200_000, 1024 * 2**20)


@pytest.mark.parametrize(("vcpus", "memory_mb"), [(2, 64), (1, 128)])
def test_a_job_of_the_members_size_keeps_its_limits_any_other_gets_its_own(vcpus, memory_mb):
    member_sized = placed(resources={"vcpus": 1, "memory_mb": 64})
    assert pool.claim_limits(member_sized, host(), POLICY) is None
    other = pool.claim_limits(
        placed(resources={"vcpus": vcpus, "memory_mb": memory_mb}), host(), POLICY
    )
    assert other is not None
    assert (other.cpu_quota_us, other.memory_bytes) == (vcpus * 100_000, memory_mb * 2**20)


def test_a_warm_sandbox_s_steps_get_the_job_env_a_cold_one_has_it_already():
    job = placed(env={"A": "1", "HOME": "/elsewhere"})
    assert sandboxes.step_env(job, SandboxStart.WARM) == {
        "A": "1",
        "HOME": "/home/sandbox",
        "JOBYARD_INBOX": "/run/jobyard/inbox",
    }
    assert sandboxes.step_env(job, SandboxStart.COLD) is None
