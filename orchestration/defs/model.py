"""The lifetime-value model: BG/NBD + Gamma-Gamma fitted every run, and its nightly backtest.

Their checks are Great Expectations suites (SPEC §8), like every validation of a table:
``expectations/customer_clv.yml`` (blocking: one row per purchasing customer, p_alive in
[0, 1], no NaN or infinity) and ``expectations/clv_backtest.yml`` (a warning: total error
beyond ``backtest_max_error_pct``).
"""

import dagster as dg
import pandas as pd

from orchestration import settings
from orchestration.clv.scoring import backtest, fit_and_score
from orchestration.config import product_vars
from orchestration.defs.resources import Night, Warehouse

FACTS = dg.AssetKey(["main", "customer_facts"])
OCCASIONS = dg.AssetKey(["intermediate", "int_purchase_occasions"])
CLV = dg.AssetKey(["model", "customer_clv"])
BACKTEST = dg.AssetKey(["model", "clv_backtest"])


def replace_table(con, table: str, frame: pd.DataFrame) -> None:
    """Write a frame as ``model.<table>`` in one statement (readers never see it half-written)."""
    con.execute("create schema if not exists model")
    con.register("_frame", frame)
    con.execute(f"create or replace table model.{table} as select * from _frame")
    con.unregister("_frame")


@dg.asset(
    key=CLV,
    group_name="model",
    deps=[FACTS, OCCASIONS],
    kinds={"python", "scipy", "duckdb"},
    owners=settings.OWNERS,
    description=(
        "Fits BG/NBD (occasions) and Gamma-Gamma (value per occasion) by maximum likelihood on "
        "every customer's occasions up to D, in days, and writes p_alive, "
        "expected_occasions_12m, expected_value_per_occasion and clv_12m (expected contribution "
        "over 12 months, discounted monthly) to model.customer_clv."
    ),
)
def customer_clv(
    context: dg.AssetExecutionContext, warehouse: Warehouse, night: Night
) -> dg.MaterializeResult:
    as_of = night.date
    config = product_vars()
    with warehouse.connect() as con:
        scores = fit_and_score(con, as_of, config)
        frame = scores.customers.reset_index()
        frame.insert(1, "as_of_date", as_of)
        replace_table(con, "customer_clv", frame)
    fit = scores.fit
    for note in fit.notes:
        context.log.warning(note)
    return dg.MaterializeResult(
        metadata={
            "customers_scored": len(frame),
            "fallback_used": fit.fallback_used,
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in fit.notes) or "none"),
            **{f"bg_nbd/{k}": v for k, v in fit.bg_nbd.as_metadata().items()},
            **{f"gamma_gamma/{k}": v for k, v in fit.gamma_gamma.as_metadata().items()},
            "mean_p_alive": float(frame["p_alive"].mean()) if len(frame) else None,
            "total_clv_12m": float(frame["clv_12m"].sum()) if len(frame) else 0.0,
        }
    )


@dg.asset(
    key=BACKTEST,
    group_name="model",
    deps=[OCCASIONS],
    kinds={"python", "duckdb"},
    owners=settings.OWNERS,
    description=(
        "Refits the model on occasions up to D − holdout_days and compares its prediction of "
        "the holdout with what happened: total error %, MAE, correlation and a decile table "
        "(model.clv_backtest)."
    ),
)
def clv_backtest(
    context: dg.AssetExecutionContext, warehouse: Warehouse, night: Night
) -> dg.MaterializeResult:
    as_of = night.date
    holdout = int(product_vars()["holdout_days"])
    with warehouse.connect() as con:
        result = backtest(con, as_of, holdout)
        deciles = result.deciles.assign(as_of_date=as_of, calibration_end=result.calibration_end)
        replace_table(con, "clv_backtest", deciles)
        metrics = pd.DataFrame(
            [
                {
                    **result.metrics,
                    "as_of_date": as_of,
                    "holdout_days": holdout,
                    "calibration_end": result.calibration_end,
                    "fallback_used": result.fit.fallback_used,
                }
            ]
        )
        replace_table(con, "clv_backtest_summary", metrics)
    return dg.MaterializeResult(
        metadata={
            "calibration_end": str(result.calibration_end),
            "holdout_days": holdout,
            **{k: v for k, v in result.metrics.items() if v is not None},
            "deciles": dg.MetadataValue.md(result.deciles.round(2).to_markdown(index=False)),
        }
    )
