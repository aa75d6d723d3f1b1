-- One row per CRM contact: its latest version (latest Last Modified Date wins; a version
-- whose modification date is in the future of its delivery is a data error and only wins
-- when there is nothing else). Exact duplicates vanish in the same step.
with versions as (

    select * from {{ ref('base_crm__contacts') }}

),

ranked as (

    -- the rank is computed beside the columns and filtered below: the window's order
    -- reads each version's own _loaded_at, not the contact's newest one selected here
    select
        contact_id,
        first_name,
        last_name,
        email,
        phone_e164,
        phone_region,
        phone_type,
        birth_date,
        gender,
        language,
        country,
        state_region,
        stated_time_zone,
        created_at,
        last_modified_at,
        lead_status,
        {{ count_distinct_over('last_modified_at', 'partition by contact_id') }} as version_count,
        min(delivered_on) over (partition by contact_id) as first_delivered_on,
        delivered_on as last_delivered_on,
        max(_loaded_at) over (partition by contact_id) as _loaded_at,
        row_number() over (
            partition by contact_id order by {{ crm_contact_current_version_order() }}
        ) as version_rank
    from versions

),

final as (

    select
        contact_id, first_name, last_name, email, phone_e164, phone_region, phone_type,
        birth_date, gender, language, country, state_region, stated_time_zone, created_at,
        last_modified_at, lead_status, version_count, first_delivered_on, last_delivered_on,
        _loaded_at
    from ranked
    where version_rank = 1

)

select * from final
