-- The measures are defined once, in macro sms_performance(), shared with
-- mart_segment_performance.
with messages as (

    select * from {{ ref('fct_sms_messages') }}

),

{{ sms_performance('messages') }},

final as (

    select * from performance_measures

)

select * from final
