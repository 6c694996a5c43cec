"""The generated SLO dashboard queries evaluated by Prometheus' own engine (promtool).

Input series stand in for the recording rules; expected values are worked out by hand,
so joins (group_left, `or on(slo)`), per-period selection and per-group lines are proven,
not only parsed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from common.durations import DAY, HOUR, MINUTE
from rulegen import grafana as g
from rulegen import slo_dashboards as sd

TIERS = (sd.TierView("page-fast", "page", "critical", HOUR, 5 * MINUTE, 14.4),)
SLOS = (
    sd.SloView("a", "s", 0.95, 30 * DAY, 5 * MINUTE, ("environment",), TIERS, spec="platform"),
    sd.SloView("b", "s", 0.99, 7 * DAY, 5 * MINUTE, (), (), spec="platform"),
    sd.SloView("c", "s", 0.9, 30 * DAY, 5 * MINUTE, (), (), spec="platform"),  # no traffic yet
)
STEPS = 360  # one sample per hour for 15 days
SERIES = {
    'slo:objective:ratio{slo_spec="platform",slo="a",service="s"}': 0.95,
    'slo:objective:ratio{slo_spec="platform",slo="b",service="s"}': 0.99,
    'slo:objective:ratio{slo_spec="platform",slo="c",service="s"}': 0.9,
    'slo:error_budget:ratio{slo_spec="platform",slo="a",service="s"}': 0.05,
    'slo:error_budget:ratio{slo_spec="platform",slo="b",service="s"}': 0.01,
    'slo:sli_error:ratio_rate30d{slo_spec="platform",slo="a",service="s",environment="prod"}': 0.25,
    'slo:sli_error:ratio_rate30d{slo_spec="platform",slo="a",service="s",environment="dev"}': 0.5,
    'slo:sli_error:ratio_rate1w{slo_spec="platform",slo="b",service="s"}': 0.5,
    'slo:sli_error:ratio_rate1h{slo_spec="platform",slo="a",service="s",environment="prod"}': 0.1,
    'slo:error_budget_remaining:ratio{slo_spec="platform",slo="a",service="s",environment="prod"}': 0.75,
    'slo:error_budget_remaining:ratio{slo_spec="platform",slo="a",service="s",environment="dev"}': -1,
    'slo:error_budget_remaining:ratio{slo_spec="platform",slo="b",service="s"}': 0.5,
    # Another spec's SLO with the same name: the dashboards keep it apart by slo_spec.
    'slo:objective:ratio{slo_spec="other",slo="a",service="s"}': 0.5,
    'slo:error_budget:ratio{slo_spec="other",slo="a",service="s"}': 0.5,
    'slo:sli_error:ratio_rate30d{slo_spec="other",slo="a",service="s"}': 0.1,
    'slo:sli_error:ratio_rate1h{slo_spec="other",slo="a",service="s"}': 0.9,
    'slo:error_budget_remaining:ratio{slo_spec="other",slo="a",service="s"}': 0.8,
    'ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo_spec="platform",slo="a",service="s",environment="dev",severity="critical"}': 1,
}
EVAL = f"{15 * 24}h"  # 15 days after the start: half of a 30d period


def _expand(expr: str, slo: str = "a") -> str:
    expr = expr.replace("$__from", "0").replace("$__rate_interval", "5m")
    expr = expr.replace("$slo_spec", "platform")
    return re.sub(r"\$slo\b", slo, expr)


def _exprs(d: g.Dashboard, title: str) -> list[str]:
    panel = next(p for p in g.render(d)["panels"] if p["title"] == title and p["type"] != "row")
    return [t["expr"] for t in panel["targets"]]


def _case(expr: str, samples: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "expr": _expand(expr),
        "eval_time": EVAL,
        "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
    }


def _run(tmp_path: Path, cases: list[dict[str, Any]]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes from the Debian prometheus package (make setup)"
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1h",
                "input_series": [
                    {"series": s, "values": f"{v}x{STEPS}"} for s, v in SERIES.items()
                ],
                "promql_expr_test": cases,
            }
        ],
    }
    path = tmp_path / "queries.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    run = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


A_PROD = '{slo_spec="platform",slo="a",service="s",environment="prod"}'
A_DEV = '{slo_spec="platform",slo="a",service="s",environment="dev"}'
B = '{slo_spec="platform",slo="b",service="s"}'
OTHER_A = '{slo_spec="other",slo="a",service="s"}'
NAMED = "slo:error_budget_remaining:ratio{}"


def test_overview_table_joins_one_row_per_slo_and_group(tmp_path: Path) -> None:
    objective, sli, budget, alerts = _exprs(sd.overview(SLOS), "SLOs by budget remaining")
    _run(
        tmp_path,
        [
            # c has no traffic: its row still shows, from the objective alone. The other
            # spec's `a` is a row of its own, never joined with this spec's `a`.
            _case(
                objective,
                [
                    (A_PROD, 0.95),
                    (A_DEV, 0.95),
                    (B, 0.99),
                    ('{slo_spec="platform",slo="c",service="s"}', 0.9),
                    (OTHER_A, 0.5),
                ],
            ),
            _case(sli, [(A_PROD, 0.75), (A_DEV, 0.5), (B, 0.5)]),
            _case(budget, [(A_PROD, 0.75), (A_DEV, -1), (B, 0.5), (OTHER_A, 0.8)]),
            _case(alerts, [(A_PROD, 1), (A_DEV, 1), (B, 0)]),
        ],
    )


def test_overview_counters(tmp_path: Path) -> None:
    d = sd.overview(SLOS)
    _run(
        tmp_path,
        [
            _case(_exprs(d, "SLOs")[0], [("{}", 4)]),  # the other spec's `a` counts apart
            _case(_exprs(d, "SLOs out of budget")[0], [("{}", 1)]),
            _case(_exprs(d, "Firing SLO alerts")[0], [("{}", 1)]),
        ],
    )


def test_detail_queries_for_a_grouped_slo(tmp_path: Path) -> None:
    d = sd.detail(SLOS)
    burn_5m, burn_1h, threshold = _exprs(d, "Burn rate per alert window")
    assert "ratio_rate5m" in burn_5m and "ratio_rate1h" in burn_1h
    budget_panels = [p for p in g.render(d)["panels"] if p["title"] == "Error budget remaining"]
    remaining, ideal_30d, ideal_1w = (t["expr"] for t in budget_panels[-1]["targets"])
    _run(
        tmp_path,
        [
            _case(_exprs(d, "Objective")[0], [("{}", 0.95)]),
            _case(_exprs(d, "SLI over the period")[0], [(A_PROD, 0.75), (A_DEV, 0.5)]),
            # burn rate = error ratio / budget, one line per group
            _case(burn_1h, [(A_PROD, 2.0)]),
            _case(burn_5m, []),  # no 5m recording in the input
            _case(threshold, [("{}", 14.4)]),
            _case(remaining, [(NAMED.format(A_PROD), 0.75), (NAMED.format(A_DEV), -1)]),
            # halfway through a 30d period, the ideal burn-down is at 50 %
            _case(ideal_30d, [("{}", 0.5)]),
            # the 1w line belongs to SLO b only
            _case(ideal_1w, []),
            _case(_exprs(d, "Firing alerts")[0], [("{}", 1)]),
        ],
    )
