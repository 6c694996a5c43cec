"""What Prometheus 2.42 (the version the bundle targets) knows of PromQL.

promql-parser follows newer Prometheus releases and accepts functions and aggregations
2.42 refuses (`limitk`, `sort_by_label`, `mad_over_time`, ...). These allow-lists are
2.42's own: every name was checked against `promtool check rules` 2.42.0, which answers
`unknown function with name "..."` for anything else.
"""

from __future__ import annotations

FUNCTIONS = frozenset(
    {
        "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan",
        "atanh", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
        "cos", "cosh", "count_over_time", "day_of_month", "day_of_week", "day_of_year",
        "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
        "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour",
        "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
        "log10", "log2", "max_over_time", "min_over_time", "minute", "month", "pi",
        "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
        "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt",
        "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
        "timestamp", "vector", "year",
    }
)  # fmt: skip

AGGREGATIONS = frozenset(
    {
        "avg", "bottomk", "count", "count_values", "group", "max", "min", "quantile",
        "stddev", "stdvar", "sum", "topk",
    }
)  # fmt: skip
