use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{FormError, TicketCard};
use crate::live::LIVE;
use crate::routes::Route;
use crate::search::Search;
use crate::session::{self, SESSION};

/// Listings a page of results holds; "Load more" fetches the next.
const PAGE_SIZE: u64 = 24;
/// The API's bound on the words searched for.
const QUERY_MAX: usize = 100;

/// One page of the market for `search`, after `cursor`.
async fn market_page(search: &Search, cursor: Option<String>) -> Result<types::TicketPage, Problem> {
    let (min, max) = search.price_range().map_err(|bad| Problem { message: bad.message, ..Problem::default() })?;
    crate::live::followed().await;
    let client = session::client();
    let mut request = client.list_tickets().limit(PAGE_SIZE).sort(search.sort());
    if !search.q.trim().is_empty() {
        request = request.q(search.q.trim());
    }
    if let Some(min) = min {
        request = request.min_price(min);
    }
    if let Some(max) = max {
        request = request.max_price(max);
    }
    if let Some(cursor) = cursor {
        request = request.after(cursor);
    }
    // As of where the stream goes on from, wherever it is followed (the server may keep pages).
    if let Some(since) = LIVE.peek().position() {
        request = request.since(since);
    }
    session::note(request.send().await.map_err(Problem::from)).map(|page| page.into_inner())
}

/// Pages after the first, for the search and the first page they follow (none until "Load more").
#[derive(Clone, PartialEq, Default)]
struct MorePages {
    /// The search and [`Landing`]'s generation of its first page these pages follow.
    after: Option<(Search, u32)>,
    items: Vec<types::TicketView>,
    next: Option<String>,
}

/// The market: a search with price filters kept in the address, its listings a page at a time;
/// owners can edit and delete their own.
#[component]
pub fn Landing(search: Search) -> Element {
    let mut error = use_signal(|| None::<String>);
    let mut more = use_signal(MorePages::default);
    let mut loading_more = use_signal(|| false);
    // Bumped whenever the first page is fetched anew (a delete), so pages fetched after the old one
    // are dropped rather than appended to the new one.
    let mut generation = use_signal(|| 0_u32);
    // How much of the live stream had been heard when the first page was asked for: listings that
    // come on the market after it and are not on screen are offered as new.
    let mut since = use_signal(|| LIVE.peek().heard());
    let mut first = use_resource(use_reactive!(|search| async move {
        let heard = LIVE.peek().heard();
        let page = market_page(&search, None).await;
        since.set(heard);
        page
    }));
    let mut refresh = move || {
        *generation.write() += 1;
        more.set(MorePages::default());
        first.restart();
    };
    // The stream says what was shown may be out of date: fetch again.
    let mut refetched = use_signal(|| LIVE.peek().refetches);
    use_effect(move || {
        let refetches = LIVE.read().refetches;
        if *refetched.peek() != refetches {
            refetched.set(refetches);
            refresh();
        }
    });
    // The search now (a Load more that finishes after it changed is dropped); a new search starts
    // without the last one's error.
    let mut latest = use_signal(|| search.clone());
    use_effect(use_reactive!(|search| {
        if *latest.peek() != search {
            latest.set(search);
            error.set(None);
        }
    }));
    let me = SESSION.read().user.as_ref().map(|user| user.id);
    let delete = move |ticket: types::TicketView| async move {
        let result = session::client().delete_ticket().id(ticket.id).version(ticket.version).send().await;
        match session::note(result.map_err(Problem::from)) {
            Ok(_) => {
                error.set(None);
                refresh();
                // The deleted card had the focus; it goes to the results' status line, not the page's top.
                let _ = document::eval("document.getElementById('result-count')?.focus()");
            }
            Err(problem) => error.set(Some(problem.message)),
        }
    };
    let filtered = !search.is_empty();
    let current = (search.clone(), generation());
    // While the first page is fetched anew the last one stays on screen, but its cursor belongs to
    // it: no Load more until the new page is in.
    let reloading = first.pending();
    // One status line for every state, so screen readers hear it change rather than appear.
    let (status, results) = match &*first.read() {
        None => ("Loading tickets…".to_owned(), rsx! {}),
        Some(Err(problem)) => (String::new(), rsx! { p { class: "form-error", role: "alert", "{problem.message}" } }),
        Some(Ok(page)) if page.items.is_empty() => {
            let fresh = LIVE.read().for_sale_since(since(), &[], &search, None);
            let results = rsx! {
                FreshListings { count: fresh, on_show: move |_| refresh() }
                EmptyMarket { filtered }
            };
            ("No tickets found.".to_owned(), results)
        }
        Some(Ok(page)) => {
            let extra = more.read();
            let (fetched, next) = if extra.after.as_ref() == Some(&current) {
                (page.items.iter().chain(&extra.items).collect::<Vec<_>>(), extra.next.clone())
            } else {
                (page.items.iter().collect(), page.next_cursor.clone())
            };
            // As the live stream has them now: a listing held, sold or deleted since leaves, and comes
            // back in its place when released.
            let live = LIVE.read();
            let fetched_ids: Vec<_> = fetched.iter().map(|ticket| ticket.id).collect();
            let items: Vec<types::TicketView> =
                fetched.into_iter().map(|ticket| live.newest(ticket)).filter(|ticket| ticket.for_sale).collect();
            // Offered only if the first page fetched anew would show it.
            let until = page.items.last().filter(|_| page.next_cursor.is_some());
            let fresh = live.for_sale_since(since(), &fetched_ids, &search, until);
            drop(live);
            let shown = items.len();
            let status = match (&next, shown) {
                _ if reloading => "Updating…".to_owned(),
                (Some(_), shown) => format!("Showing the first {shown} tickets"),
                (None, 1) => "1 ticket".to_owned(),
                (None, shown) => format!("{shown} tickets"),
            };
            let for_more = current.clone();
            let results = rsx! {
                FreshListings { count: fresh, on_show: move |_| refresh() }
                ul { class: "grid", "aria-label": "Tickets",
                    for ticket in items {
                        li { key: "{ticket.id}",
                            TicketCard {
                                mine: me == Some(ticket.owner_id),
                                ticket,
                                on_delete: move |ticket| { spawn(delete(ticket)); },
                            }
                        }
                    }
                }
                if let Some(cursor) = next.filter(|_| !reloading) {
                    div { class: "load-more",
                        button {
                            class: "button secondary",
                            disabled: loading_more(),
                            onclick: move |_| {
                                let (after, cursor) = (for_more.clone(), cursor.clone());
                                async move {
                                    loading_more.set(true);
                                    let page = market_page(&after.0, Some(cursor)).await;
                                    loading_more.set(false);
                                    // The search or its first page changed meanwhile: this page belongs to neither.
                                    if (latest.peek().clone(), *generation.peek()) != after {
                                        return;
                                    }
                                    match page {
                                        Ok(page) => {
                                            let mut extra = more.write();
                                            if extra.after.as_ref() != Some(&after) {
                                                *extra = MorePages { after: Some(after), ..MorePages::default() };
                                            }
                                            extra.items.extend(page.items);
                                            extra.next = page.next_cursor;
                                        }
                                        Err(problem) => error.set(Some(problem.message)),
                                    }
                                }
                            },
                            if loading_more() { "Loading…" } else { "Load more" }
                        }
                    }
                }
            };
            (status, results)
        }
    };
    rsx! {
        h1 { class: "visually-hidden", "Tickets for sale" }
        SearchForm { search }
        FormError { message: error() }
        section { class: "results", "aria-label": "Results",
            p { id: "result-count", class: "result-count", role: "status", tabindex: "-1", "{status}" }
            {results}
        }
    }
}

/// The search box and price filters. Each change updates the address (replacing, not adding to,
/// the history), which the results follow.
#[component]
fn SearchForm(search: Search) -> Element {
    let mut form = use_signal(|| search.clone());
    // The address this form last wrote. An address that differs from it came from elsewhere (back,
    // forward, a link to the bare market): the fields then show what it says. The form's own writes
    // come back trimmed, and must not undo a space just typed.
    let mut written = use_signal(|| search.to_string());
    use_effect(use_reactive!(|search| {
        if *written.peek() != search.to_string() {
            written.set(search.to_string());
            form.set(search);
        }
    }));
    let mut change = move |edit: &dyn Fn(&mut Search)| {
        edit(&mut form.write());
        let wanted = form.peek().clone();
        if wanted.price_range().is_ok() && *written.peek() != wanted.to_string() {
            written.set(wanted.to_string());
            navigator().replace(Route::Landing { search: wanted });
        }
    };
    let current = form();
    let bad = current.price_range().err();
    let invalid = |field: &str| bad.as_ref().is_some_and(|bad| bad.field == field);
    let (min_invalid, max_invalid) = (invalid("min"), invalid("max"));
    rsx! {
        form {
            class: "search",
            role: "search",
            "aria-label": "Search tickets",
            onsubmit: move |event: FormEvent| event.prevent_default(),
            div { class: "field search-words",
                label { r#for: "search-q", "Search events, venues and cities" }
                input {
                    id: "search-q",
                    name: "q",
                    r#type: "search",
                    maxlength: QUERY_MAX as i64,
                    autocomplete: "off",
                    value: "{current.q}",
                    oninput: move |event| change(&|s: &mut Search| s.q = event.value()),
                }
            }
            PriceBound {
                name: "min",
                label: "Lowest price ($)",
                value: current.min.clone(),
                invalid: min_invalid,
                oninput: move |value: String| change(&|s: &mut Search| s.min = value.clone()),
            }
            PriceBound {
                name: "max",
                label: "Highest price ($)",
                value: current.max.clone(),
                invalid: max_invalid,
                oninput: move |value: String| change(&|s: &mut Search| s.max = value.clone()),
            }
            div { class: "field sort",
                label { r#for: "search-sort", "Order" }
                select {
                    id: "search-sort",
                    name: "sort",
                    value: if current.by_price { "price" } else { "start" },
                    onchange: move |event| change(&|s: &mut Search| s.by_price = event.value() == "price"),
                    option { value: "start", selected: !current.by_price, "Soonest first" }
                    option { value: "price", selected: current.by_price, "Cheapest first" }
                }
            }
            if let Some(bad) = bad {
                p { id: "search-error", class: "field-error", role: "alert", "data-field": "{bad.field}", "{bad.message}" }
            }
        }
    }
}

/// One end of the price range; an invalid one points at the search's error.
#[component]
fn PriceBound(
    name: &'static str,
    label: &'static str,
    value: String,
    invalid: bool,
    oninput: EventHandler<String>,
) -> Element {
    let id = format!("search-{name}");
    rsx! {
        div { class: "field price-bound",
            label { r#for: "{id}", "{label}" }
            input {
                id: "{id}",
                name,
                inputmode: "decimal",
                value: "{value}",
                class: if invalid { "invalid" },
                "aria-invalid": if invalid { "true" },
                "aria-describedby": if invalid { "search-error" },
                oninput: move |event| oninput.call(event.value()),
            }
        }
    }
}

/// Listings the live stream told of that the results do not show yet, offered on asking (the
/// results do not move under the reader's eyes).
#[component]
fn FreshListings(count: usize, on_show: EventHandler<()>) -> Element {
    rsx! {
        if count > 0 {
            div { class: "fresh",
                button {
                    class: "button secondary",
                    onclick: move |_| on_show.call(()),
                    if count == 1 { "1 more ticket is for sale: show it" } else { "{count} more tickets are for sale: show them" }
                }
            }
        }
    }
}

/// Nothing to show: says why, and what to do next.
#[component]
fn EmptyMarket(filtered: bool) -> Element {
    let signed_in = SESSION.read().user.is_some();
    rsx! {
        div { class: "empty panel",
            if filtered {
                h2 { "No tickets match your search" }
                p { "Try fewer or different words, or widen the price range." }
                Link { class: "button secondary", to: Route::Landing { search: Search::default() }, "Clear the search" }
            } else {
                h2 { "No tickets are for sale right now" }
                p { "New listings appear here as soon as sellers add them." }
                if signed_in {
                    Link { class: "button", to: Route::CreateTicket {}, "List a ticket" }
                } else {
                    Link { class: "button", to: Route::Register {}, "Register to sell a ticket" }
                }
            }
        }
    }
}
