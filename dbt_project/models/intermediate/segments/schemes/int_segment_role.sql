-- SPEC §5.1 customer role: employees are internal, everyone else external (an unknown
-- is_employee counts as external).
{%- set rules = [
    ("is_employee", "internal", "'is_employee = true'"),
    ("is_employee is null", "external", "'is_employee unknown: treated as external'"),
    ("true", "external", "'is_employee = false'"),
] %}

select
    *,
    {{ first_match('role', rules) }}
from {{ ref('int_segment_quotes') }}
