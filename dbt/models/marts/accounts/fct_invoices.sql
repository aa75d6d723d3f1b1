-- One row per customer invoice issued by the as_of day, in its latest delivered state,
-- resolved to a customer. The rules (who, which date counts, overdue) are in the yml.
with invoices as (

    select * from {{ ref('stg_pos__invoices') }}
    where not is_future_dated
        and issued_on <= {{ as_of_date() }}

),

identifiers as (

    select identifier, customer_id
    from {{ ref('int_identity__identifiers') }}
    where customer_id is not null

),

identified as (

    -- the card first: it names one account, where a phone may be a shared (hub) number;
    -- every non-hub identifier of one person sits in the same component, so they agree
    select
        invoices.*,
        coalesce(by_card.customer_id, by_phone.customer_id) as customer_id,
        case
            when by_card.customer_id is not null then by_card.identifier
            when by_phone.customer_id is not null then by_phone.identifier
        end as identity_key
    from invoices
    left join identifiers as by_card
        on by_card.identifier = 'loyalty:' || invoices.loyalty_id
    left join identifiers as by_phone
        on by_phone.identifier = 'phone:' || invoices.phone_e164

),

stated as (

    select
        identified.*,
        fx.rate_to_reporting,
        status in ('open', 'partially_paid') as is_open,
        -- a paid date before the issue date is a typing slip, not a date: kept out, flagged
        coalesce(paid_on < issued_on, false) as has_paid_date_before_issue
    from identified
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = identified.currency

),

final as (

    select
        invoice_id,
        customer_id,
        identity_key,
        phone_e164,
        loyalty_id,
        location_id,
        currency,
        rate_to_reporting is not null as is_known_currency,
        rate_to_reporting as fx_rate_to_reporting,
        cast(amount as decimal(18, 2)) as amount,
        cast(case when is_open then balance else 0 end as decimal(18, 2)) as open_amount,
        {{ to_reporting_currency('amount', 'rate_to_reporting') }} as amount_reporting,
        {{ to_reporting_currency('case when is_open then balance else 0 end', 'rate_to_reporting') }}
            as open_amount_reporting,
        issued_on,
        due_on,
        case when not has_paid_date_before_issue then paid_on end as paid_on,
        has_paid_date_before_issue,
        status,
        is_open,
        is_open and due_on < {{ as_of_date() }} as is_overdue,
        case
            when is_open and due_on < {{ as_of_date() }}
                then {{ dbt.datediff('due_on', as_of_date(), 'day') }}
            else 0
        end as days_past_due,
        {{ as_of_date() }} as as_of_date,
        first_delivered_on,
        last_delivered_on,
        _loaded_at,
        current_timestamp::timestamp as _built_at
    from stated

)

select * from final
