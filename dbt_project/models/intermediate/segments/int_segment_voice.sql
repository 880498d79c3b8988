-- Per customer: the latest "voice" event within voice_window_days of D (SPEC §5.3) — a survey
-- answer (on the NPS scale) or a complaint ticket — and, for the NPS group (§5.4), the latest
-- survey answer in the same window. On a timestamp tie the complaint wins: a complaint filed
-- together with a survey answer must not be hidden by it.
with surveys as (
    select * from {{ ref('stg_raw__surveys') }}
    where responded_date between {{ window_start(var('voice_window_days')) }} and {{ as_of() }}
),

complaints as (
    select * from {{ ref('stg_raw__tickets') }}
    where kind = 'complaint'
        and opened_date between {{ window_start(var('voice_window_days')) }} and {{ as_of() }}
),

events as (
    select
        customer_id,
        'survey' as voice_kind,
        responded_at as voice_at,
        response_id as event_id,
        nps_equivalent as voice_score,
        nps_from_csat as voice_from_csat,
        cast(null as {{ text_type() }}) as complaint_severity,
        2 as tie_order
    from surveys
    union all
    select
        customer_id,
        'complaint' as voice_kind,
        opened_at as voice_at,
        ticket_id as event_id,
        cast(null as integer) as voice_score,
        cast(null as boolean) as voice_from_csat,
        severity as complaint_severity,
        1 as tie_order
    from complaints
),

latest_voice as (
    select
        customer_id,
        voice_kind,
        voice_at,
        voice_score,
        voice_from_csat,
        complaint_severity
    from (
        select
            *,
            row_number() over (
                partition by customer_id order by voice_at desc, tie_order, event_id desc
            ) as voice_rank
        from events
    ) as ranked_events
    where voice_rank = 1
),

latest_survey as (
    select
        customer_id,
        responded_at as nps_at,
        nps_equivalent as nps_score,
        nps_from_csat
    from (
        select
            *,
            row_number() over (
                partition by customer_id order by responded_at desc, response_id desc
            ) as survey_rank
        from surveys
    ) as ranked_surveys
    where survey_rank = 1
),

final as (
    select
        coalesce(latest_voice.customer_id, latest_survey.customer_id) as customer_id,
        latest_voice.voice_kind,
        latest_voice.voice_at,
        latest_voice.voice_score,
        latest_voice.voice_from_csat,
        latest_voice.complaint_severity,
        latest_survey.nps_at,
        latest_survey.nps_score,
        latest_survey.nps_from_csat
    from latest_voice
    full outer join latest_survey using (customer_id)
)

select * from final
