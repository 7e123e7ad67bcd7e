"""A new administrator with an open-government export and the docs only, end to end by CLI.

The registry looks like what a statistics bureau publishes: UTF-8 with a BOM, Chinese values,
quoted thousands separators, dates in four forms (2002/11/5 reads), a value with a trailing
space, a boolean written 是/否, an empty cell and a repeated key. Following README.md and
docs/REFERENCE.md: the messy file is refused with the line of each column's first bad row and
what it expects (nothing is written), the cleaned file imports, products and a policy pass
`zone policy check`, `zone serve` starts, a DP histogram shows its bin labels, consents are
registered and `zone verify match` answers per subject (an empty claim cell is refused first,
saying what to do).
"""

from __future__ import annotations

import csv
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from zonekit import serve_process

META = """\
description: 企业注册登记信息（市场监管局公开数据）
provider: 市场监督管理局
entity_key: uscc
columns:
  uscc: {type: string, level: L3, description: 统一社会信用代码}
  name: {type: string, level: L3, description: 企业名称}
  district: {type: string, level: L1, domain: [东城区, 西城区, 南湖区], description: 所属区县}
  industry: {type: string, level: L1, domain: [C, F, G], description: 行业门类}
  founded: {type: date, level: L1, description: 成立日期}
  capital: {type: float, level: L2, bounds: [0, 100000], description: 注册资本(万元)}
  employees: {type: integer, level: L2, bounds: [0, 5000], description: 从业人数}
  high_tech: {type: boolean, level: L1, description: 是否高新技术企业}
"""
HEADER = "uscc,name,district,industry,founded,capital,employees,high_tech"
MESSY = [
    "913301000000000011,测试企业一有限公司,东城区,C,2010/11/19,3175.18,12,false",
    '913301000000000022,测试企业二有限公司,西城区,F,2002.11.05,"2,044.49",,是',  # line 3
    "913301000000000033,测试企业三有限公司,南湖区 ,G,2018年7月23日,2070.84,7,否",  # line 4
    "913301000000000011,测试企业一有限公司,东城区,C,2010-11-19,3175.18,12,false",  # line 5
]
CLEAN = [
    "913301000000000011,测试企业一有限公司,东城区,C,2010-11-19,3175.18,12,false",
    "913301000000000022,测试企业二有限公司,西城区,F,2002-11-05,2044.49,,true",
    "913301000000000033,测试企业三有限公司,南湖区,G,2018-07-23,2070.84,7,false",
]
STATS = """\
id: registry-stats
kind: statistics
dataset: registry
description: 企业登记统计
columns: [district, industry, founded, capital, employees, high_tech]
group_by: [district, industry]
measures: [count, histogram]
max_epsilon_per_query: 1.0
"""
MATCH = """\
id: registry-match
kind: verification
dataset: registry
description: 注册资本与从业人数核验
key: uscc
claims: {capital: {tolerance: 0, unit: 0.01}, employees: {tolerance: 2}}
consent: operator
"""
PURPOSE = "贷款审查 2026-001"


def zone(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8-sig", newline="")
    return path


def _policy(root: Path) -> Path:
    made = zone("token", "new")
    assert made.returncode == 0, made.stderr
    token = re.search(r"^token:\s+(\S+)", made.stdout, re.MULTILINE)
    digest = re.search(r"^token_sha256:\s+([0-9a-f]{64})", made.stdout, re.MULTILINE)
    assert token and digest, made.stdout
    (root / "policies").mkdir()
    (root / "policies" / "bank.yaml").write_text(
        "principals:\n"
        "  - {id: bank-x, role: operator, organisation: 某商业银行, "
        f"token_sha256: {digest.group(1)}}}\n"
        "grants:\n"
        "  - principal: bank-x\n"
        "    products: [registry-stats, registry-match]\n"
        "    budget: {registry: {epsilon: 2.0, delta: 1.0e-6}}\n"
        "    purpose: 贷款审查\n",
        encoding="utf-8",
    )
    token_file = root / "bank.token"
    token_file.write_text(token.group(1))
    return token_file


def test_a_new_administrator_goes_from_an_export_to_answers(tmp_path: Path) -> None:
    config = tmp_path / "zone.yaml"
    config.write_text(
        "datasets_db: datasets\nstate_db: state.sqlite\nmodels_dir: models\n"
        "policies_dir: policies\nrow_count_granularity: 1\n"
    )
    meta = tmp_path / "registry.meta.yaml"
    meta.write_text(META, encoding="utf-8")
    imported = ["datasets", "import", "--name", "registry", "--meta", str(meta),
                "--config", str(config)]  # fmt: skip

    messy = _write(tmp_path / "registry.csv", MESSY)
    refused = zone(*imported, str(messy))
    assert refused.returncode == 1 and "REFUSED" in refused.stdout
    lines = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"registry\.csv:(\d+): column '(\w+)'", refused.stderr)
    }
    assert lines == {"uscc": 5, "district": 4, "founded": 3, "capital": 3, "high_tech": 3}
    for expected in ("YYYY-MM-DD", "no thousands separators", "true or false", "domain"):
        assert expected in refused.stderr
    assert "2,044.49" not in refused.stderr + refused.stdout  # values are not echoed
    assert "registry" not in zone("datasets", "list", "--config", str(config)).stdout

    accepted = zone(*imported, str(_write(tmp_path / "registry_clean.csv", CLEAN)))
    assert accepted.returncode == 0, accepted.stderr
    assert "imported registry: 3 rows" in accepted.stdout

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "registry-stats.yaml").write_text(STATS, encoding="utf-8")
    (tmp_path / "models" / "registry-match.yaml").write_text(MATCH, encoding="utf-8")
    token = str(_policy(tmp_path))
    checked = zone("policy", "check", "--config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    proc, address = serve_process(config)
    try:
        auth = ["--target", address, "--token-file", token]
        query = zone("stats", "query", *auth, "--product", "registry-stats",
                     "--measure", "histogram:district", "--epsilon", "0.5")  # fmt: skip
        assert query.returncode == 0, query.stderr
        assert all(f"{label}: " in query.stdout for label in ("东城区", "西城区", "南湖区"))

        subjects = ["913301000000000011", "913301000000000022"]
        consents = []
        for subject in subjects:
            registered = zone("consent", "register", *auth, "--product", "registry-match",
                              "--subject", subject, "--purpose", PURPOSE, "--not-after",
                              "2099-01-01", "--letter-sha256", "ab" * 32)  # fmt: skip
            assert registered.returncode == 0, registered.stderr
            consents.append(registered.stdout.split()[1])
        (tmp_path / "consents.csv").write_text(
            "subject,consent\n"
            + "".join(f"{s},{c}\n" for s, c in zip(subjects, consents, strict=True))
        )
        (tmp_path / "claims.csv").write_text(
            f"subject,capital,employees\n{subjects[0]},3175.18,14\n{subjects[1]},2044.50,\n"
        )
        result = tmp_path / "result.csv"
        verify = ["verify", "match", *auth, "--product", "registry-match",
                  "--csv", str(tmp_path / "claims.csv"), "--out", str(result),
                  "--purpose", PURPOSE, "--consents", str(tmp_path / "consents.csv")]  # fmt: skip
        empty = zone(*verify)
        assert empty.returncode == 1 and "claims.csv:3: employees is empty" in empty.stderr
        assert not result.exists()
        (tmp_path / "claims.csv").write_text(
            f"subject,capital,employees\n{subjects[0]},3175.18,14\n{subjects[1]},2044.50,9\n"
        )
        match = zone(*verify)
        assert match.returncode == 0, match.stderr
        with result.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    assert [(r["status"], r["capital"], r["employees"]) for r in rows] == [
        ("MATCH", "true", "true"),
        ("NO_MATCH", "false", "false"),
    ]


def test_a_missing_token_file_or_zone_says_what_to_do(tmp_path: Path) -> None:
    query = ["stats", "query", "--product", "registry-stats", "--measure", "count",
             "--epsilon", "0.1"]  # fmt: skip
    missing = zone(*query, "--token-file", str(tmp_path / "bank.token"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "bank.token: cannot read it (No such file or directory)" in missing.stderr
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    blank = zone(*query, "--token-file", str(empty))
    assert blank.returncode == 1 and "is empty: put the token" in blank.stderr
    token = tmp_path / "ok.token"
    token.write_text("some-token\n")
    with socket.socket() as holder:  # a port where nothing serves
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    nobody = zone(*query, "--token-file", str(token), "--target", f"127.0.0.1:{port}")
    assert nobody.returncode == 1 and "UNAVAILABLE" in nobody.stderr
    assert f"no zone answers at 127.0.0.1:{port}: is `zone serve` running there?" in nobody.stderr
