"""Real scientific work inside the `base` image, run as Jobyard jobs (issue: sandbox images)."""

import re
import socket

import pytest

from jobyard import ValidationError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ALIGN_AND_CALL = r"""
set -euo pipefail
python3 - <<'PY'
import random
random.seed(7)
ref = "".join(random.choice("ACGT") for _ in range(5000))
with open("ref.fa", "w") as fa:
    fa.write(">chr1\n" + "\n".join(ref[i:i + 60] for i in range(0, len(ref), 60)) + "\n")
pos = 2500                                   # 1-based position of the planted SNP
alt = {"A": "C", "C": "G", "G": "T", "T": "A"}[ref[pos - 1]]
sample = ref[:pos - 1] + alt + ref[pos:]
complement = str.maketrans("ACGT", "TGCA")
with open("r1.fq", "w") as r1, open("r2.fq", "w") as r2:
    for i in range(400):                     # 400 pairs of 100 bp from 300 bp fragments
        start = random.randint(0, len(sample) - 300)
        fragment = sample[start:start + 300]
        mate = fragment[-100:].translate(complement)[::-1]
        r1.write(f"@p{i}/1\n{fragment[:100]}\n+\n{'I' * 100}\n")
        r2.write(f"@p{i}/2\n{mate}\n+\n{'I' * 100}\n")
print(f"truth chr1 {pos} {ref[pos - 1]} {alt}")
PY
samtools faidx ref.fa
bwa index ref.fa 2>/dev/null
bwa mem -t 1 ref.fa r1.fq r2.fq 2>/dev/null | samtools sort -o aln.bam - 2>/dev/null
samtools index aln.bam
samtools flagstat aln.bam
bcftools mpileup -f ref.fa aln.bam 2>/dev/null | bcftools call -mv -Ov -o calls.vcf 2>/dev/null
grep -v '^#' calls.vcf | awk '{print "call", $1, $2, $4, $5}'
"""

PANDAS_AND_MATPLOTLIB = r"""
set -euo pipefail
python3 - <<'PY'
import numpy as np, pandas as pd, matplotlib.pyplot as plt
from scipy import stats
rng = np.random.default_rng(0)
df = pd.DataFrame({"dose": np.repeat([0, 1, 2, 4], 25)})
df["response"] = 3.0 + 1.5 * df["dose"] + rng.normal(0, 0.5, len(df))
summary = df.groupby("dose")["response"].agg(["mean", "std", "count"]).round(3)
summary.to_csv("summary.csv")
fit = stats.linregress(df["dose"], df["response"])
fig, ax = plt.subplots()
ax.scatter(df["dose"], df["response"], s=8)
ax.plot(df["dose"], fit.intercept + fit.slope * df["dose"], color="red")
fig.savefig("dose_response.png", dpi=80)
print(f"slope {fit.slope:.2f} r2 {fit.rvalue ** 2:.3f}")
PY
head -2 summary.csv
wc -l < summary.csv
python3 -c "print('png', open('dose_response.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n')"
"""

R_THROUGH_RPY2 = r"""
python3 - <<'PY'
import rpy2.robjects as ro
ro.r('set.seed(1); x <- 1:50; y <- 2 * x + 5 + rnorm(50, sd = 0.1)')
coefficients = ro.r('round(coef(lm(y ~ x)), 2)')
print("R", ro.r('R.version.string')[0])
print("coefficients", list(coefficients))
PY
Rscript -e 'cat("rscript", sum(1:10), "\n")'
"""

PRIVILEGES = r"""
echo "uid $(id -u)"
awk '/^(CapEff|CapBnd|NoNewPrivs)/ {print $1, $2}' /proc/self/status
apt-get install -y cowsay >/dev/null 2>&1 && echo "apt allowed" || echo "apt refused"
touch /usr/local/should-not-write 2>/dev/null && echo "root fs writable" || echo "root fs protected"
"""


def run(sdk, name, script, **options):
    job = sdk.jobs.run_and_wait(name=name, script=script, poll_interval=0.5, **options)
    logs = sdk.jobs.get_logs(job.id)
    assert job.status == "completed", (job, logs)
    return logs


def test_alignment_and_variant_calling_find_the_planted_snp(sdk):
    logs = run(sdk, "align-and-call", ALIGN_AND_CALL, memory_mb=1024)
    truth = re.search(r"truth (\S+ \d+ \w \w)", logs).group(1)
    assert "800 + 0 in total" in logs
    assert "800 + 0 mapped (100.00%" in logs
    assert "800 + 0 properly paired (100.00%" in logs
    assert f"call {truth}" in logs.splitlines()


def test_pandas_scipy_and_matplotlib_write_a_csv_and_a_png(sdk):
    logs = run(sdk, "analysis", PANDAS_AND_MATPLOTLIB)
    slope = float(re.search(r"slope ([\d.]+)", logs).group(1))
    assert abs(slope - 1.5) < 0.1
    assert "dose,mean,std,count" in logs
    assert "5\n" in logs  # header + 4 dose groups
    assert "png True" in logs


def test_r_runs_through_rpy2_and_rscript(sdk):
    logs = run(sdk, "r-stats", R_THROUGH_RPY2)
    assert "R version 4." in logs
    intercept, slope = map(float, re.search(r"coefficients \[([\d.]+), ([\d.]+)\]", logs).groups())
    assert abs(intercept - 5) < 0.1
    assert abs(slope - 2) < 0.01
    assert "rscript 55" in logs


def test_the_sandbox_is_non_root_without_capabilities(sdk):
    logs = run(sdk, "privileges", PRIVILEGES)
    assert "uid 1000" in logs
    assert "CapEff: 0000000000000000" in logs
    assert "CapBnd: 0000000000000000" in logs
    assert "NoNewPrivs: 1" in logs
    assert "apt refused" in logs
    assert "root fs protected" in logs


def test_images_are_selectable_and_unknown_ones_refused(sdk):
    assert run(sdk, "minimal", "command -v R || echo no R here", image="minimal") == "no R here\n"
    with pytest.raises(ValidationError) as refused:
        sdk.jobs.create(name="x", script="true", image="cuda")
    assert refused.value.errors[0]["field"] == "image"
    assert "available: base, minimal" in refused.value.message


def test_the_manifest_lists_every_tool_with_its_version(sdk, stack):
    base = sdk.images.get("base")
    tools, libraries = base.manifest["tools"], base.manifest["python_libraries"]
    for tool in ("python", "R", "gcc", "git", "curl", "jq", "bwa", "samtools", "bcftools"):
        assert tools[tool], tool
    for library in ("numpy", "scipy", "pandas", "matplotlib", "biopython", "openpyxl", "rpy2"):
        assert libraries[library], library
    assert run(sdk, "manifest", "jobyard-manifest | jq -r .image") == "base\n"
    printed = stack.cli("images", api_key=sdk._http.headers["Authorization"][7:]).stdout
    assert "samtools" in printed
    assert "rpy2" in printed


def test_network_policy_none_blocks_and_internet_allows(sdk, stack):
    port = int(stack.base_url.rsplit(":", 1)[1])
    connect = f'import socket; socket.create_connection(("127.0.0.1", {port}), 2); print("reached")'
    probe = f"python3 -c '{connect}' 2>/dev/null || echo blocked"
    assert run(sdk, "offline", probe) == "blocked\n"
    assert run(sdk, "online", probe, network="internet") == "reached\n"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) == 0
