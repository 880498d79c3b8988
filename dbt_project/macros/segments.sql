{# Helpers of the segment models (models/intermediate/segments): numbers quoted in *_reason
   texts, the rank cut-off of a "top share" rule and the lapse threshold. #}

{# A number as text for a reason, rounded to `decimals`; 'unknown' when NULL. #}
{% macro seg_num(expr, decimals=0) -%}
    coalesce(cast(cast({{ expr }} as decimal(18, {{ decimals }})) as {{ text_type() }}), 'unknown')
{%- endmacro %}

{# A date as text for a reason; 'unknown' when NULL. #}
{% macro seg_date(expr) -%}
    coalesce(cast({{ expr }} as {{ text_type() }}), 'unknown')
{%- endmacro %}

{# How many ranks a "top `share`" rule admits out of `population`: ceil(share x population).
   The share renders as a decimal literal, so 0.3 x 10 is exactly 3. #}
{% macro seg_top_ranks(share, population) -%}
    cast(ceil({{ share }} * {{ population }}) as integer)
{%- endmacro %}

{# The tenure band of a peer group, from the edges in var('peer_tenure_bands_days'). #}
{% macro seg_tenure_band(tenure_days) -%}
    {%- set edges = var('peer_tenure_bands_days') -%}
    case
        when {{ tenure_days }} is null then 'none'
        {%- for edge in edges %}
        {%- set low = 0 if loop.first else edges[loop.index0 - 1] %}
        when {{ tenure_days }} < {{ edge }} then '{{ low }}-{{ edge - 1 }}d'
        {%- endfor %}
        else '{{ edges[-1] }}d+'
    end
{%- endmacro %}

{# A share var as a percentage for a reason text: 0.1 -> 10%. #}
{% macro seg_pct(share) -%}
    {{ '%g' | format(share * 100) }}%
{%- endmacro %}

{# The lifecycle's lapse threshold in days (SPEC §5.2 rules 4 and 5): a silence longer than
   max(lapse_min_days, lapse_gap_multiple × the median gap between the customer's occasions so
   far) is a lapse. `median_gap_days` is an expression. #}
{% macro lapse_threshold_days(median_gap_days) -%}
    greatest({{ var('lapse_min_days') }}, {{ var('lapse_gap_multiple') }} * {{ median_gap_days }})
{%- endmacro %}

{# int_segment_history on Spark (a Parquet table cannot delete rows, nor be overwritten while it
   is read): its hooks. `step` 'keep' (pre-hook, on an incremental run) copies the table aside
   to <history>__kept, whose rows of the other as-of dates the model adds to the new rows (as
   delete+insert on as_of_date keeps them); 'drop' (before and after) drops the copy. #}
{% macro segment_history_kept(step) -%}
    {%- set kept = this.schema ~ '.' ~ this.identifier ~ '__kept' -%}
    {%- if step == 'drop' -%}
    drop table if exists {{ kept }}
    {%- elif is_incremental() -%}
    create table {{ kept }} using parquet as select * from {{ this }}
    {%- endif -%}
{%- endmacro %}
