"""What each landing source looks like: files, columns, types, keys.

One ``SourceSpec`` per source entity. The loader, the Dagster assets, the
sensor and the docs (``docs/landing-files.md``) all follow these; nothing
else in the code knows a header name. Types are DuckDB types; a JSON field's
type may be nested (a dict is a STRUCT, a one-element list is a LIST of it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from dagster_project.contracts import landed_files

JsonType = str | dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Column:
    source: str  # header name (CSV) or top-level field (JSON) as delivered
    name: str  # column name in the raw table
    type: JsonType  # DuckDB type, or a nested JSON structure for JSON sources
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class PhoneField:
    """A free-typed phone column and the SQL giving the region to read it in.

    ``region_sql`` is evaluated over the staged row (alias ``s``); it may look
    up a reference table. NULL falls back to ``SMS_DEFAULT_PHONE_REGION``.
    """

    column: str
    region_sql: str


@dataclass(frozen=True)
class SourceSpec:
    entity: str  # asset name and raw table name, e.g. "pos_transactions"
    source: Literal["pos", "crm", "shop"]
    path: str  # relative to the landing root: a folder of day folders, or one file
    format: Literal["csv", "jsonl"]
    columns: tuple[Column, ...]
    description: str
    partitioned: bool = True
    # Extra columns computed from loaded ones (name -> SQL over alias ``s``).
    derived: tuple[tuple[str, str], ...] = ()
    phones: tuple[PhoneField, ...] = ()
    emails: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    # Reference tables that region_sql reads, which must be loaded first.
    needs: tuple[str, ...] = field(default=())
    # Columns holding the event's own time: a row dated after its delivery day is
    # quarantined (ingest/faults.py), unless ``future_kept`` (SQL over the row) holds.
    event_times: tuple[str, ...] = ()
    future_kept: str = ""

    @property
    def glob(self) -> str:
        return "*.csv" if self.format == "csv" else "*.jsonl"

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    def column(self, source_name: str) -> Column | None:
        wanted = normalize_header(source_name)
        for col in self.columns:
            if normalize_header(col.source) == wanted:
                return col
        return None


def normalize_header(name: str) -> str:
    """Header matching ignores case, surrounding blanks and a UTF-8 BOM."""
    return name.replace("\ufeff", "").strip().casefold()


def duckdb_type(t: JsonType) -> str:
    """The DuckDB column type for a (possibly nested) spec type."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return duckdb_type(t[0]) + "[]"
    inner = ", ".join(f'"{k}" {duckdb_type(v)}' for k, v in t.items())
    return f"STRUCT({inner})"


def json_structure(columns: tuple[Column, ...]) -> str:
    """The structure argument of DuckDB's ``json_transform`` for these columns."""
    return json.dumps({c.source: c.type for c in columns})


_MONEY = "DECIMAL(18,2)"

POS_STORES = SourceSpec(
    entity="pos_stores",
    source="pos",
    path="pos/stores.csv",
    format="csv",
    partitioned=False,
    description="Store (location) list: country, time zone and currency of each till.",
    key=("location_id",),
    columns=(
        Column("Location ID", "location_id", "VARCHAR", True, "Store id used in transactions."),
        Column("Location Name", "location_name", "VARCHAR"),
        Column("Country", "country", "VARCHAR", True, "ISO alpha-2; region for till phones."),
        Column("Time Zone", "time_zone", "VARCHAR", True, "IANA time zone of the store."),
        Column("Currency", "currency", "VARCHAR", True, "ISO 4217 currency of the till."),
    ),
)

POS_TRANSACTIONS = SourceSpec(
    entity="pos_transactions",
    source="pos",
    path="pos/transactions",
    format="csv",
    description="In-store line items, Square item-export shape; refunds are negative rows.",
    key=("transaction_id", "event_type", "sku"),
    event_times=("local_date",),
    needs=("pos_stores",),
    columns=(
        Column("Date", "local_date", "DATE", True, "Store-local date."),
        Column("Time", "local_time", "TIME", True, "Store-local time."),
        Column("Time Zone", "time_zone", "VARCHAR", True, "IANA time zone of the store."),
        Column("Transaction ID", "transaction_id", "VARCHAR", True),
        Column("Location ID", "location_id", "VARCHAR", True),
        Column("Event Type", "event_type", "VARCHAR", True, "Payment or Refund."),
        Column("Item", "item", "VARCHAR"),
        Column("SKU", "sku", "VARCHAR", True),
        Column("Category", "category", "VARCHAR"),
        Column("Qty", "quantity", "INTEGER", True, "Negative on refunds."),
        Column("Unit Price", "unit_price", _MONEY, True),
        Column("Gross Sales", "gross_sales", _MONEY, True),
        Column("Discounts", "discounts", _MONEY),
        Column("Discount Code", "discount_code", "VARCHAR"),
        Column("Net Sales", "net_sales", _MONEY, True),
        Column("Currency", "currency", "VARCHAR", True),
        Column("Payment Method", "payment_method", "VARCHAR"),
        Column("Customer Phone", "customer_phone", "VARCHAR", False, "Typed at the till."),
        Column("Loyalty ID", "loyalty_id", "VARCHAR"),
    ),
    phones=(
        PhoneField(
            "customer_phone",
            "(SELECT st.country FROM raw.pos_stores st WHERE st.location_id = s.location_id)",
        ),
    ),
)

POS_INVOICES = SourceSpec(
    entity="pos_invoices",
    source="pos",
    path="pos/invoices",
    format="csv",
    description=(
        "Customer invoices on account (POS/accounting A/R export), re-delivered on the day "
        "they are issued, partly paid, paid or voided."
    ),
    key=("invoice_id", "status"),
    event_times=("issued_on",),
    needs=("pos_stores",),
    columns=(
        Column("Invoice No", "invoice_id", "VARCHAR", True),
        Column("Customer Phone", "customer_phone", "VARCHAR", False, "Typed at the till."),
        Column("Loyalty ID", "loyalty_id", "VARCHAR"),
        Column("Location ID", "location_id", "VARCHAR", True, "Store that issued it."),
        Column("Amount", "amount", _MONEY, True, "Invoice total, in its currency."),
        Column("Balance", "balance", _MONEY, True, "Still owed at export time."),
        Column("Currency", "currency", "VARCHAR", True, "As typed; ISO 4217 expected."),
        Column("Issue Date", "issued_on", "DATE", True),
        Column("Due Date", "due_on", "DATE", True, "Without it no reminder can be timed."),
        Column("Paid Date", "paid_on", "DATE", False, "Day paid in full."),
        Column("Status", "status", "VARCHAR", True, "open, partially paid, paid or void."),
    ),
    phones=(
        PhoneField(
            "customer_phone",
            "(SELECT st.country FROM raw.pos_stores st WHERE st.location_id = s.location_id)",
        ),
    ),
)

CRM_CONTACTS = SourceSpec(
    entity="crm_contacts",
    source="crm",
    path="crm/contacts",
    format="csv",
    description="CRM contacts (HubSpot shape), re-delivered on every modification.",
    key=("record_id", "last_modified_at"),
    event_times=("created_at", "last_modified_at"),
    columns=(
        Column("Record ID", "record_id", "VARCHAR", True),
        Column("First Name", "first_name", "VARCHAR"),
        Column("Last Name", "last_name", "VARCHAR"),
        Column("Email", "email", "VARCHAR"),
        Column("Phone Number", "phone", "VARCHAR"),
        Column("Date of Birth", "birth_date", "DATE"),
        Column("Gender", "gender", "VARCHAR"),
        Column("Preferred Language", "language", "VARCHAR"),
        Column("Country/Region", "country", "VARCHAR"),
        Column("State/Region", "state_region", "VARCHAR", False, "Address state or region."),
        Column(
            "Time Zone",
            "time_zone",
            "VARCHAR",
            False,
            "The contact's own time zone: IANA (America/New_York) or HubSpot's "
            "america_slash_new_york; quiet hours trust it over the phone's zones.",
        ),
        Column("Create Date", "created_at", "TIMESTAMP", True, "UTC."),
        Column("Last Modified Date", "last_modified_at", "TIMESTAMP", True, "UTC."),
        Column("Lead Status", "lead_status", "VARCHAR"),
    ),
    phones=(PhoneField("phone", "s.country"),),
    emails=("email",),
)

CRM_TICKETS = SourceSpec(
    entity="crm_tickets",
    source="crm",
    path="crm/tickets",
    format="csv",
    description="Support tickets, re-delivered when their status changes.",
    key=("ticket_id", "status"),
    event_times=("created_at",),
    columns=(
        Column("Ticket ID", "ticket_id", "VARCHAR", True),
        Column("Contact ID", "contact_id", "VARCHAR", True),
        Column("Created At", "created_at", "TIMESTAMP", True, "UTC."),
        Column("Status", "status", "VARCHAR", True, "open or closed."),
        Column("Priority", "priority", "VARCHAR"),
        Column("Subject", "subject", "VARCHAR"),
        Column("Closed At", "closed_at", "TIMESTAMP", False, "UTC."),
    ),
)

CRM_CONSENT = SourceSpec(
    entity="crm_consent",
    source="crm",
    path=landed_files.CONSENT_FOLDER,
    format="jsonl",
    description="SMS consent events: opt-ins and opt-outs with source and wording.",
    key=("event_id",),
    event_times=("occurred_at",),
    # A STOP with a wrong clock still counts, from its delivery day (marts/dim_sms_consent).
    future_kept="lower(trim(event_type)) = 'opt_out'",
    columns=(
        Column("event_id", "event_id", "VARCHAR", True),
        Column("contact_id", "contact_id", "VARCHAR"),
        Column("phone", "phone", "VARCHAR", True, "As captured."),
        Column("country_code", "country_code", "VARCHAR"),
        Column("event_type", "event_type", "VARCHAR", True, "opt_in or opt_out."),
        Column("source", "source", "VARCHAR", True),
        Column("occurred_at", "occurred_at", "TIMESTAMPTZ", True),
        Column("consent_text_version", "consent_text_version", "VARCHAR"),
        Column("keyword", "keyword", "VARCHAR"),
    ),
    phones=(PhoneField("phone", "s.country_code"),),
)

SHOP_PRODUCTS = SourceSpec(
    entity="shop_products",
    source="shop",
    path="shop/products.csv",
    format="csv",
    partitioned=False,
    description="Product catalog (Shopify product export): SKU, title, category, price.",
    key=("sku",),
    columns=(
        Column("Handle", "handle", "VARCHAR"),
        Column("Title", "title", "VARCHAR"),
        Column("Vendor", "vendor", "VARCHAR"),
        Column("Product Type", "category", "VARCHAR", False, "Used as the category."),
        Column("Variant SKU", "sku", "VARCHAR", True),
        Column("Variant Price", "price", _MONEY, True),
        Column("Status", "status", "VARCHAR"),
    ),
)

_LINE_ITEM = {
    "id": "UBIGINT",
    "sku": "VARCHAR",
    "product_id": "UBIGINT",
    "title": "VARCHAR",
    "quantity": "INTEGER",
    "price": _MONEY,
}
_CUSTOMER = {
    "id": "UBIGINT",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "first_name": "VARCHAR",
    "last_name": "VARCHAR",
}

SHOP_ORDERS = SourceSpec(
    entity="shop_orders",
    source="shop",
    path="shop/orders",
    format="jsonl",
    description="Web orders (Shopify Admin API objects), re-delivered on every update.",
    key=("id", "updated_at"),
    event_times=("created_at", "updated_at"),
    columns=(
        Column("id", "id", "UBIGINT", True),
        Column("name", "name", "VARCHAR"),
        Column("email", "email", "VARCHAR"),
        Column("phone", "phone", "VARCHAR"),
        Column("created_at", "created_at", "TIMESTAMPTZ", True),
        Column("updated_at", "updated_at", "TIMESTAMPTZ", True),
        Column("currency", "currency", "VARCHAR"),
        Column("total_price", "total_price", _MONEY),
        Column("subtotal_price", "subtotal_price", _MONEY),
        Column("total_discounts", "total_discounts", _MONEY),
        Column("financial_status", "financial_status", "VARCHAR"),
        Column("cancelled_at", "cancelled_at", "TIMESTAMPTZ"),
        Column("cancel_reason", "cancel_reason", "VARCHAR"),
        Column(
            "discount_codes",
            "discount_codes",
            [{"code": "VARCHAR", "amount": _MONEY, "type": "VARCHAR"}],
        ),
        Column("customer", "customer", _CUSTOMER),
        Column("shipping_address", "shipping_address", {"country_code": "VARCHAR"}),
        Column("line_items", "line_items", [_LINE_ITEM]),
        Column(
            "refunds",
            "refunds",
            [
                {
                    "id": "UBIGINT",
                    "created_at": "TIMESTAMPTZ",
                    "refund_line_items": [
                        {"line_item_id": "UBIGINT", "quantity": "INTEGER", "subtotal": _MONEY}
                    ],
                }
            ],
        ),
    ),
    derived=(
        ("customer_id", "s.customer.id"),
        ("customer_email", "s.customer.email"),
        ("customer_phone", "s.customer.phone"),
        ("shipping_country", "s.shipping_address.country_code"),
    ),
    phones=(
        PhoneField("phone", "s.shipping_address.country_code"),
        PhoneField("customer_phone", "s.shipping_address.country_code"),
    ),
    emails=("email", "customer_email"),
)

SHOP_CHECKOUTS = SourceSpec(
    entity="shop_checkouts",
    source="shop",
    path="shop/checkouts",
    format="jsonl",
    description="Abandoned checkouts (Shopify): carts that did not become orders that day.",
    key=("id", "updated_at"),
    event_times=("created_at", "updated_at"),
    columns=(
        Column("id", "id", "UBIGINT", True),
        Column("token", "token", "VARCHAR"),
        Column("email", "email", "VARCHAR"),
        Column("phone", "phone", "VARCHAR"),
        Column("created_at", "created_at", "TIMESTAMPTZ", True),
        Column("updated_at", "updated_at", "TIMESTAMPTZ"),
        Column("completed_at", "completed_at", "TIMESTAMPTZ"),
        Column("currency", "currency", "VARCHAR"),
        Column("total_price", "total_price", _MONEY),
        Column("customer", "customer", {"id": "UBIGINT", "email": "VARCHAR", "phone": "VARCHAR"}),
        Column("shipping_address", "shipping_address", {"country_code": "VARCHAR"}),
        Column(
            "line_items",
            "line_items",
            [
                {
                    "sku": "VARCHAR",
                    "product_id": "UBIGINT",
                    "title": "VARCHAR",
                    "quantity": "INTEGER",
                    "price": _MONEY,
                }
            ],
        ),
    ),
    derived=(
        ("customer_id", "s.customer.id"),
        ("customer_email", "s.customer.email"),
        ("shipping_country", "s.shipping_address.country_code"),
    ),
    phones=(PhoneField("phone", "s.shipping_address.country_code"),),
    emails=("email", "customer_email"),
)

REFERENCE_SPECS: tuple[SourceSpec, ...] = (POS_STORES, SHOP_PRODUCTS)
DAILY_SPECS: tuple[SourceSpec, ...] = (
    POS_TRANSACTIONS,
    POS_INVOICES,
    CRM_CONTACTS,
    CRM_TICKETS,
    CRM_CONSENT,
    SHOP_ORDERS,
    SHOP_CHECKOUTS,
)
ALL_SPECS: tuple[SourceSpec, ...] = REFERENCE_SPECS + DAILY_SPECS
SPECS_BY_ENTITY = {spec.entity: spec for spec in ALL_SPECS}
