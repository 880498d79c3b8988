-- One survey response, with CSAT-only answers mapped onto the NPS scale (SPEC §3).
select
    response_id,
    customer_id,
    responded_at,
    cast(responded_at as date) as responded_date,
    nps_score,
    csat_score,
    coalesce(
        nps_score,
        case csat_score when 5 then 10 when 4 then 8 when 3 then 6 when 2 then 3 when 1 then 0 end
    ) as nps_equivalent,
    nps_score is null and csat_score is not null as nps_from_csat,
    comment,
    contact_id
from {{ source('raw', 'surveys') }}
where _visible_from <= {{ as_of() }}
