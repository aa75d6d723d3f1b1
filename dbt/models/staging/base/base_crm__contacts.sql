with source as (

    select * from {{ source('raw', 'crm_contacts') }}

),

renamed as (

    select
        trim(record_id) as contact_id,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        case when email_normalized like '%_@_%' then email_normalized end as email,
        case when phone_is_valid then phone_e164 end as phone_e164,
        case when phone_is_valid then phone_region end as phone_region,
        case when phone_is_valid then phone_type end as phone_type,
        birth_date,
        case lower(trim(gender))
            when 'female' then 'female'
            when 'male' then 'male'
            when 'non-binary' then 'non_binary'
            when 'nonbinary' then 'non_binary'
            when '' then null
            else case when gender is not null then 'other' end
        end as gender,
        nullif(lower(trim(language)), '') as language,
        nullif(upper(trim(country)), '') as country,
        -- as stated on the contact: activation decides what it means (whereabouts.py)
        nullif(trim(state_region), '') as state_region,
        nullif(trim(time_zone), '') as stated_time_zone,
        created_at,
        last_modified_at,
        nullif(trim(lead_status), '') as lead_status,
        -- a modification stamped after its own delivery day is a clock error: such a
        -- version must not win "latest" forever
        {{ is_future_dated('last_modified_at', '_partition_date') }} as is_future_dated,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

)

select * from renamed
