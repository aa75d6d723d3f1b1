with messages as (

    select * from {{ ref('fct_sms_messages') }}

),

message_segments as (

    select message_key, segment from {{ ref('int_sms__message_segments') }}

),

exploded as (

    select
        messages.*,
        coalesce(message_segments.segment, '(none)') as segment
    from messages
    left join message_segments on message_segments.message_key = messages.message_key

),

{{ sms_performance('exploded', extra_keys=['segment']) }},

final as (

    select * from performance_measures

)

select * from final
