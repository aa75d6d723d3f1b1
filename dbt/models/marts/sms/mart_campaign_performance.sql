-- One row per campaign and variant: how the messages did (sent, delivered, clicks,
-- replies, opt-outs), what they were credited with (last touch), what they cost, and the
-- lift against the campaign's holdout with confidence intervals. The measures are defined
-- once, in the sms_performance() macro, and shared with mart_segment_performance.
with messages as (

    select * from {{ ref('fct_sms_messages') }}

),

{{ sms_performance('messages') }},

final as (

    select * from performance_measures

)

select * from final
