-- One row per support ticket in its latest state (a ticket is re-delivered when it
-- closes; the latest delivery wins, closed beats open on the same day).
with source as (

    select * from {{ source('raw', 'crm_tickets') }}

),

renamed as (

    select
        trim(ticket_id) as ticket_id,
        trim(contact_id) as contact_id,
        created_at,
        lower(trim(status)) as status,
        nullif(lower(trim(priority)), '') as priority,
        nullif(trim(subject), '') as subject,
        closed_at,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

),

final as (

    select
        ticket_id,
        contact_id,
        created_at,
        status,
        status = 'open' as is_open,
        priority,
        subject,
        closed_at,
        {{ is_future_dated('created_at', 'delivered_on') }} as is_future_dated,
        min(delivered_on) over (partition by ticket_id) as first_delivered_on,
        delivered_on as last_delivered_on,
        max(_loaded_at) over (partition by ticket_id) as _loaded_at
    from renamed
    qualify row_number() over (
        partition by ticket_id
        order by delivered_on desc, (status = 'closed') desc, closed_at desc nulls last,
            _source_file, _source_line
    ) = 1

)

select * from final
