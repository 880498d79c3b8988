"""The lifetime-value model: BG/NBD + Gamma-Gamma fitted every run, and its nightly backtest.

Their checks are Great Expectations suites (SPEC §8), like every validation of a table:
``expectations/customer_clv.yml`` (blocking: one row per purchasing customer, p_alive in
[0, 1], no NaN or infinity), ``expectations/clv_fit.yml`` (a warning: the data do not identify
the dropout process) and ``expectations/clv_backtest.yml`` (a warning: no backtest, or a total
error beyond ``backtest_max_error_pct``).
"""

import dagster as dg
import pandas as pd

from orchestration import settings
from orchestration.clv.dropout import PriorChoice
from orchestration.clv.scoring import ModelFit, backtest, fit_and_score
from orchestration.config import product_vars
from orchestration.defs.resources import Night, Warehouse
from orchestration.warehouse import q, scalar

FACTS = dg.AssetKey(["main", "customer_facts"])
OCCASIONS = dg.AssetKey(["intermediate", "int_purchase_occasions"])
CLV = dg.AssetKey(["model", "customer_clv"])
BACKTEST = dg.AssetKey(["model", "clv_backtest"])


# Column types of the backtest's tables, so that a night without a backtest (every figure NULL)
# publishes the same types as any other night.
BACKTEST_TYPES = {
    "decile": "BIGINT",
    "customers": "BIGINT",
    "predicted": "DOUBLE",
    "actual": "DOUBLE",
    "as_of_date": "DATE",
    "calibration_end": "DATE",
}
SUMMARY_TYPES = {
    "n": "BIGINT",
    "total_error_pct": "DOUBLE",
    "mae": "DOUBLE",
    "correlation": "DOUBLE",
    "as_of_date": "DATE",
    "status": "VARCHAR",
    "history_days": "BIGINT",
    "holdout_days": "BIGINT",
    "calibration_end": "DATE",
    "window_note": "VARCHAR",
    "fallback_used": "BOOLEAN",
    "calibration_method": "VARCHAR",
    "dropout_identified": "BOOLEAN",
    "dropout_note": "VARCHAR",
}

FIT_TYPES = {
    "dropout_likelihood_ratio": "DOUBLE",
    "dropout_prior_strength": "DOUBLE",
}


def replace_table(
    con, table: str, frame: pd.DataFrame, types: dict[str, str] | None = None
) -> None:
    """Write a frame as ``model.<table>`` in one statement (readers never see it half-written),
    with ``types`` (column -> SQL type, from the code) for its columns."""
    con.execute("create schema if not exists model")
    con.register("_frame", frame)
    casts = ", ".join(
        f"cast({q(c)} as {kind}) as {q(c)}" for c, kind in (types or {}).items() if c in frame
    )
    select = f"* replace ({casts})" if casts else "*"
    con.execute(f"create or replace table model.{table} as select {select} from _frame")
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
        replace_table(con, "clv_fit", fit_summary(as_of, scores.model), FIT_TYPES)
    fit = scores.fit
    for note in fit.notes:
        context.log.warning(note)
    model = scores.model
    candidates = model.prior.candidates if model.prior else []
    return dg.MaterializeResult(
        metadata={
            "customers_scored": len(frame),
            "fallback_used": fit.fallback_used,
            "model_method": model.model_method,
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in fit.notes) or "none"),
            **{f"bg_nbd/{k}": v for k, v in fit.bg_nbd.as_metadata().items()},
            **{f"gamma_gamma/{k}": v for k, v in fit.gamma_gamma.as_metadata().items()},
            **{f"dropout/{k}": v for k, v in model.as_metadata().items() if v is not None},
            "dropout/prior_candidates": dg.MetadataValue.md(
                pd.DataFrame(candidates).to_markdown(index=False) if candidates else "none"
            ),
            "mean_p_alive": float(frame["p_alive"].mean()) if len(frame) else None,
            "total_clv_12m": float(frame["clv_12m"].sum()) if len(frame) else 0.0,
        }
    )


def fit_summary(as_of, model: ModelFit) -> pd.DataFrame:
    """``model.clv_fit``: one row, the night's fit and what was decided about its dropout (read
    by the backtest, which refits by the same procedure, and by the dropout check)."""
    bg = model.fit.bg_nbd
    return pd.DataFrame(
        [
            {
                "as_of_date": as_of,
                "model_method": model.model_method,
                "r": bg.r,
                "alpha": bg.alpha,
                "a": bg.a,
                "b": bg.b,
                "log_likelihood": bg.log_likelihood,
                "dropout_assessed": model.dropout.assessed,
                "dropout_identified": model.dropout.identified,
                "dropout_boundary_fit": model.dropout.boundary,
                "dropout_likelihood_ratio": model.dropout.likelihood_ratio,
                "dropout_prior_strength": model.prior.strength if model.prior else None,
                "dropout_note": model.note,
            }
        ]
    )


@dg.asset(
    key=BACKTEST,
    group_name="model",
    deps=[OCCASIONS, CLV],
    kinds={"python", "duckdb"},
    owners=settings.OWNERS,
    description=(
        "Refits the model by the nightly procedure on occasions up to D − holdout and compares "
        "its prediction of the holdout with what happened: total error %, MAE, correlation and "
        "a decile table (model.clv_backtest). The holdout is sized to the history (at most "
        "holdout_days, at most half the history, leaving backtest_min_calibration_days); a "
        "history too short gives status insufficient_history and no figures."
    ),
)
def clv_backtest(
    context: dg.AssetExecutionContext, warehouse: Warehouse, night: Night
) -> dg.MaterializeResult:
    as_of = night.date
    config = product_vars()
    with warehouse.connect() as con:
        # tonight's fit (customer_clv runs first); none when the backtest is run on its own
        fitted = scalar(
            con,
            "select count(*) > 0 from duckdb_tables() where schema_name = 'model' "
            "and table_name = 'clv_fit'",
        )
        tonight = (
            con.execute(
                "select dropout_prior_strength, dropout_identified, dropout_note from model.clv_fit"
            ).fetchall()
            if fitted
            else []
        )
        strength, identified, note = tonight[0] if tonight else (None, None, "")
        prior = PriorChoice(strength, "the nightly fit's") if strength is not None else None
        result = backtest(con, as_of, config, prior=prior)
        window = result.window
        deciles = result.deciles.assign(as_of_date=as_of, calibration_end=window.calibration_end)
        replace_table(con, "clv_backtest", deciles, BACKTEST_TYPES)
        metrics = pd.DataFrame(
            [
                {
                    **result.metrics,
                    "as_of_date": as_of,
                    "status": window.status,
                    "history_days": window.history_days,
                    "holdout_days": window.holdout_days,
                    "calibration_end": window.calibration_end,
                    "window_note": window.reason,
                    "fallback_used": result.fit.fallback_used if result.fit else None,
                    "calibration_method": result.model.model_method if result.model else None,
                    "dropout_identified": identified,
                    "dropout_note": note,
                }
            ]
        )
        replace_table(con, "clv_backtest_summary", metrics, SUMMARY_TYPES)
    if not window.ok:
        context.log.warning(f"CLV backtest: {window.status}: {window.reason}")
    return dg.MaterializeResult(
        metadata={
            "status": window.status,
            "history_days": window.history_days,
            "window": window.reason,
            "calibration_end": str(window.calibration_end),
            "holdout_days": window.holdout_days,
            **{k: v for k, v in result.metrics.items() if v is not None},
            "calibration_method": result.model.model_method if result.model else "none",
            "dropout_note": dg.MetadataValue.md(note),
            "deciles": dg.MetadataValue.md(
                result.deciles.round(2).to_markdown(index=False)
                if len(result.deciles)
                else "no backtest"
            ),
        }
    )
