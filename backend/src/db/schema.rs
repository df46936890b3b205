//! Table definitions matching `backend/migrations`. Kept by hand, checked by the test suite, which runs
//! every query against the migrated schema.

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        stripe_customer_id -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        token_hash -> Bytea,
        user_id -> Uuid,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email_lower -> Text,
        client_addr -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    tickets (id) {
        id -> Uuid,
        owner_id -> Uuid,
        event_name -> Text,
        price -> Int8,
        currency -> Text,
        status -> Text,
        held_until -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        hold_order_id -> Nullable<Uuid>,
        venue -> Text,
        city -> Text,
        event_starts_at -> Nullable<Timestamptz>,
        event_time_zone -> Nullable<Text>,
        event_local_date -> Nullable<Date>,
        section -> Nullable<Text>,
        seat_row -> Nullable<Text>,
        seat -> Nullable<Text>,
        face_value -> Int8,
        file_key -> Nullable<Text>,
        file_content_type -> Nullable<Text>,
        file_bytes -> Nullable<Int4>,
    }
}

diesel::table! {
    ticket_files (key) {
        key -> Text,
        content -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        buyer_id -> Uuid,
        ticket_id -> Uuid,
        ticket_title -> Text,
        price -> Int8,
        tax -> Int8,
        total -> Int8,
        currency -> Text,
        status -> Text,
        cancel_reason -> Nullable<Text>,
        expires_at -> Timestamptz,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        payment_intent_id -> Nullable<Text>,
        intent_status -> Nullable<Text>,
        billing -> Nullable<Jsonb>,
        completed_at -> Nullable<Timestamptz>,
        refund_requested_at -> Nullable<Timestamptz>,
        refund_id -> Nullable<Text>,
        refunded_at -> Nullable<Timestamptz>,
        refund_reason -> Nullable<Text>,
        paid_at -> Nullable<Timestamptz>,
        refund_attempts -> Int4,
        dispute_status -> Nullable<Text>,
        dispute_id -> Nullable<Text>,
        disputed_at -> Nullable<Timestamptz>,
        event_starts_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    stripe_requests (idempotency_key) {
        idempotency_key -> Text,
        order_id -> Uuid,
        operation -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        kind -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Int8,
        kind -> Text,
        aggregate_id -> Uuid,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_deliveries (event_id, consumer) {
        event_id -> Int8,
        consumer -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
        lease_token -> Nullable<Uuid>,
    }
}

diesel::table! {
    sent_emails (event_id, recipient) {
        event_id -> Int8,
        recipient -> Text,
        kind -> Text,
        status -> Text,
        claimed_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        message_id -> Text,
    }
}

diesel::table! {
    seller_accounts (user_id) {
        user_id -> Uuid,
        create_key -> Text,
        stripe_account_id -> Nullable<Text>,
        details_submitted -> Bool,
        payouts_enabled -> Bool,
        transfers_active -> Bool,
        requirements_due -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    payouts (order_id) {
        order_id -> Uuid,
        seller_id -> Uuid,
        currency -> Text,
        total -> Int8,
        price -> Int8,
        tax -> Int8,
        fee_milli_percent -> Int4,
        platform_fee -> Int8,
        seller_share -> Int8,
        status -> Text,
        due_at -> Timestamptz,
        transfer_attempts -> Int4,
        attempt_started_at -> Nullable<Timestamptz>,
        transfer_id -> Nullable<Text>,
        transferred_at -> Nullable<Timestamptz>,
        reversal_id -> Nullable<Text>,
        reversed_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    listing_changes (id) {
        id -> Int8,
        position -> Nullable<Int8>,
        ticket_id -> Uuid,
        kind -> Text,
        version -> Int4,
        listing -> Jsonb,
    }
}

diesel::table! {
    waitlist (ticket_id, user_id) {
        ticket_id -> Uuid,
        user_id -> Uuid,
        joined_at -> Timestamptz,
        line_position -> Int8,
    }
}

diesel::table! {
    hold_rules (id) {
        id -> Bool,
        hold_seconds -> Int8,
        max_live_holds -> Int8,
        tax_milli_percent -> Int8,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(tickets -> users (owner_id));
diesel::joinable!(outbox_deliveries -> outbox_events (event_id));
diesel::joinable!(orders -> tickets (ticket_id));
diesel::joinable!(orders -> users (buyer_id));
diesel::joinable!(stripe_requests -> orders (order_id));
diesel::joinable!(payouts -> orders (order_id));
diesel::joinable!(seller_accounts -> users (user_id));
diesel::joinable!(waitlist -> tickets (ticket_id));
diesel::joinable!(waitlist -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_failures,
    tickets,
    ticket_files,
    orders,
    stripe_requests,
    stripe_events,
    outbox_events,
    outbox_deliveries,
    sent_emails,
    seller_accounts,
    payouts,
    listing_changes,
    waitlist,
    hold_rules,
);
