-- Tracked-link tokens (sms.links): which message a token belongs to. Empty until the first
-- plan creates the table.
with source as (

    select * from {{ optional_relation(source('sms', 'links'), {
        'token': 'string', 'message_key': 'string', 'target_url': 'string',
        'created_at': 'timestamp'
    }) }} as links

),

final as (

    select
        token,
        message_key,
        target_url,
        created_at
    from source

)

select * from final
