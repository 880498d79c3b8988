-- Every customer's labels and action per as-of date, accumulated in int_segment_history.
select * from {{ ref('int_segment_history') }}
