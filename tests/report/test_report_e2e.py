"""The report against a real Prometheus holding 30 days of backfilled history.

Each reported figure is compared with the value computed in Python from the events the
history generated. Counters are sampled on a grid the queries align with, so increase()
is exact there (Prometheus 2.x selects [t - range, t] inclusive: no extrapolation) and
the comparison is to float precision, not a tolerance that could hide an off-by-one.
"""

from __future__ import annotations

import html
import itertools
import math
import re

import httpx
import pytest
from markupsafe import escape

from rulegen.report import render
from rulegen.report.figures import Report, SLOFigures
from tests.report.conftest import BackfilledPrometheus, Generated
from tests.report.history import END, Expected

EXACT = 1e-9


def _slo(report: Report, name: str) -> SLOFigures:
    return next(s for s in report.slos if s.queries.slo.name == name)


def _close(got: float | None, want: float | None) -> bool:
    if want is None:
        return got is None
    return got is not None and math.isclose(got, want, rel_tol=EXACT, abs_tol=EXACT)


@pytest.mark.parametrize(
    "slo", ["backstage-availability", "deployment-success", "time-to-deploy", "rollback-time"]
)
def test_slo_attainment_and_budget_equal_the_generated_data(
    generated: Generated, expected: Expected, slo: str
) -> None:
    s = _slo(generated.report, slo)
    want = expected.error_ratio(slo)
    assert want is not None
    budget = float(s.queries.slo.budget)
    print(f"{slo}: attained reported {s.attained!r}, computed {1 - want!r}")
    assert _close(s.error_ratio, want)
    assert _close(s.attained, 1 - want)
    assert _close(s.budget_spent, want / budget)
    assert _close(s.budget_remaining, 1 - want / budget)
    # As the reader sees it, in both files.
    assert render.percent(1 - want) in generated.markdown
    assert render.percent(1 - want) in generated.html


@pytest.mark.parametrize("slo", ["deployment-success", "time-to-deploy", "rollback-time"])
def test_burndown_starts_full_and_ends_at_the_budget_left(
    generated: Generated, expected: Expected, slo: str
) -> None:
    s = _slo(generated.report, slo)
    want = expected.error_ratio(slo)
    assert want is not None
    points = s.burndown
    assert points[0] == (generated.report.window.start, 1.0)
    assert len(points) == 721  # the start, then one point per hour of 30 days
    assert _close(points[-1][1], 1 - want / float(s.queries.slo.budget))
    assert all(b[1] <= a[1] for a, b in itertools.pairwise(points))  # only falls


def test_an_slo_without_data_is_no_data_never_attained(generated: Generated) -> None:
    s = _slo(generated.report, "api-latency")
    assert (s.error_ratio, s.attained, s.met, s.burndown) == (None, None, None, ())
    row = next(line for line in generated.markdown.splitlines() if "| api-latency |" in line)
    assert "no data" in row
    assert "100" not in row


@pytest.mark.parametrize("slo", ["deployment-success", "backstage-availability", "time-to-deploy"])
def test_burn_alerts_are_the_firing_intervals_of_the_slos_alert(
    generated: Generated, expected: Expected, slo: str
) -> None:
    got = [(f.labels, f.start, f.end) for f in _slo(generated.report, slo).firings]
    print(f"{slo}: firings reported {got}, generated {expected.firings(slo)}")
    # time-to-deploy's only ALERTS series is pending; SLOMetricAbsent is not a burn alert.
    assert got == expected.firings(slo)


def test_delivery_figures_equal_the_generated_data(
    generated: Generated, expected: Expected
) -> None:
    r = generated.report
    deployments = {row.labels: row.value for row in r.deployments.rows}
    print(f"deployments reported {deployments}, generated {expected.deployments()}")
    assert deployments == expected.deployments()
    p95 = {row.labels[0]: row.value for row in r.deploy_p95.rows}
    print(f"time to deploy P95 reported {p95}, computed {expected.deploy_p95()}")
    assert p95.keys() == expected.deploy_p95().keys()
    assert all(_close(p95[env], want) for env, want in expected.deploy_p95().items())
    assert {row.labels: row.value for row in r.rollbacks.rows} == expected.rollbacks()
    mean = {row.labels[0]: row.value for row in r.rollback_mean.rows}
    assert mean.keys() == expected.rollback_mean().keys()
    assert all(_close(mean[e], want) for e, want in expected.rollback_mean().items())
    rb95 = {row.labels[0]: row.value for row in r.rollback_p95.rows}
    assert all(_close(rb95[e], want) for e, want in expected.rollback_p95().items())


def test_compliance_figures_equal_the_generated_data(
    generated: Generated, expected: Expected
) -> None:
    r = generated.report
    assert {row.labels: row.value for row in r.audit.rows} == expected.audit()
    assert r.production_deployments == expected.audit()[("deployment.trigger", "production")]
    assert r.failed_authentications == sum(
        v for (action, _), v in expected.audit().items() if action == "auth.failed"
    )
    ages = {row.labels[2]: row.value for row in r.backup_max_age.rows}
    print(f"backup max age reported {ages}, computed {expected.backup_max_age()}")
    assert ages == expected.backup_max_age()


def test_capacity_figures_equal_the_generated_data(
    generated: Generated, expected: Expected
) -> None:
    r = generated.report
    assert _close(r.deploys_per_day.value, expected.deploys_per_day())
    assert r.templates.value == expected.templates()
    assert sum(v for _, v in r.deploys_daily) == len(expected.h.deploys)
    triggers = {t.what: t for t in r.capacity}
    db = triggers["Database connections, peak (idp)"]
    queue = triggers["Deployment queue, peak"]
    assert (db.value, db.reached) == (expected.db_connections_peak(), True)
    assert (queue.value, queue.reached) == (expected.queue_peak(), True)
    # No node_exporter series in the history: said, not guessed.
    assert triggers["CPU usage, peak"].value is None
    assert triggers["Memory usage, peak"].value is None


def test_every_cited_query_is_in_the_appendix_and_every_listed_query_is_cited(
    generated: Generated,
) -> None:
    page = generated.html
    cited = set(re.findall(r'href="#q(\d+)"', page))
    listed = set(re.findall(r'<h3 id="q(\d+)">', page))
    assert listed == {str(i) for i in range(1, len(generated.report.queries) + 1)}
    assert cited == listed
    for q in generated.report.queries:
        assert str(escape(q.promql)) in page


def test_an_appendix_query_rerun_gives_the_reported_figure(
    generated: Generated, expected: Expected, prometheus: BackfilledPrometheus
) -> None:
    """What a reader does: copy Q<n> from the appendix and run it at the period's end."""
    r = generated.report
    n = r.ref(_slo(r, "deployment-success").queries.error_ratio)
    found = re.search(rf'<h3 id="q{n}">.*?<pre>(.*?)</pre>', generated.html, re.S)
    assert found is not None
    body = httpx.post(
        f"{prometheus.url}/api/v1/query",
        data={"query": html.unescape(found.group(1)), "time": str(END)},
        timeout=30,
    ).json()
    value = float(body["data"]["result"][0]["value"][1])
    assert _close(value, expected.error_ratio("deployment-success"))


def test_the_report_is_self_contained_and_marked_generated(generated: Generated) -> None:
    page = generated.html
    assert "Generated by idp-rulegen — do not edit." in page
    assert "Generated by idp-rulegen — do not edit." in generated.markdown.splitlines()[0]
    # Nothing fetched at view time: no scripts, stylesheets or images by URL.
    # Only in-page references (#...): charts clip by url(#id), links point at the appendix.
    assert not re.search(r'<(script|link|img|iframe)\b|(src|href)="(?!#)|url\((?!#)|@import', page)
    assert page.count("<svg") == 5  # four burn-downs with data, the daily deployments
