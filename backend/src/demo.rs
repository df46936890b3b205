//! A market to look at on a first run: `ticket-exchange demo` fills a database that has no accounts
//! yet with a few sellers and their listings (each with its ticket file), through the same rules as
//! the API. A database anyone else has used is left alone, and so is a public (https) site.
//!
//! Every demo seller signs in with [`PASSWORD`].

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::accounts::{self, EmailAddress, Registration};
use crate::db;
use crate::listings::{self, DraftInput, TicketDraft};
use crate::state::AppState;
use crate::ticket_files;

/// The demo sellers' password.
pub const PASSWORD: &str = "demo-password";

/// The demo sellers, and what each sells: (event, venue, city, time zone, days from now, section,
/// row, price in cents).
type Listing = (&'static str, &'static str, &'static str, &'static str, i64, &'static str, &'static str, i64);
const SELLERS: &[(&str, &[Listing])] = &[
    (
        "maya@example.com",
        &[
            ("Tennis Game", "Sobeys Stadium", "Toronto", "America/Toronto", 12, "104", "F", 5_000),
            ("Soccer Match", "BMO Field", "Toronto", "America/Toronto", 19, "112", "K", 3_000),
            ("Pop Concert", "Scotiabank Arena", "Toronto", "America/Toronto", 33, "Floor", "3", 18_500),
        ],
    ),
    (
        "theo@example.com",
        &[
            ("Rock Concert", "Rogers Arena", "Vancouver", "America/Vancouver", 26, "209", "C", 16_000),
            ("Blues Festival", "Jack Singer Concert Hall", "Calgary", "America/Edmonton", 41, "Orchestra", "M", 9_500),
            ("Stampede", "Stampede Park", "Calgary", "America/Edmonton", 58, "Grandstand", "22", 2_500),
        ],
    ),
    (
        "priya@example.com",
        &[
            ("Circus", "Place des Arts", "Montréal", "America/Toronto", 15, "Parterre", "H", 6_500),
            ("Comedy Show", "Massey Hall", "Toronto", "America/Toronto", 8, "Balcony", "B", 4_000),
        ],
    ),
];

/// The demo sellers' email addresses.
pub fn seller_emails() -> impl Iterator<Item = &'static str> {
    SELLERS.iter().map(|(email, _)| *email)
}

/// What [`seed`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// This many sellers and listings were added (none when an earlier run had added them all).
    Market { sellers: usize, listings: usize },
    /// Someone other than the demo sellers has an account: nothing was added.
    InUse,
    /// `PUBLIC_URL` is https: a demo market, with its published password, is not added to a public
    /// site.
    PublicSite,
}

/// Fills an empty market; see the module's documentation. A run that stopped half-way is finished
/// by the next: sellers and listings that exist are kept, missing ones added, and a listing without
/// its file gets it.
pub async fn seed(state: &AppState) -> anyhow::Result<Seeded> {
    if state.config.public_url.starts_with("https://") {
        return Ok(Seeded::PublicSite);
    }
    let demo = seller_emails().map(EmailAddress::parse).collect::<Result<Vec<_>, _>>();
    let demo = demo.map_err(|err| anyhow::anyhow!("{err:?}"))?;
    let in_use = accounts::exists_other_than(&state.pool, &demo).await?;
    if in_use {
        return Ok(Seeded::InUse);
    }
    let now = state.now();
    let (mut sellers, mut added) = (0, 0);
    for (email, items) in SELLERS {
        let (seller_id, registered) = demo_seller(state, email, now).await?;
        sellers += usize::from(registered);
        let mut conn = db::conn(&state.pool).await?;
        let existing = listings::store::list_for_owner(&mut conn, seller_id, 100).await?;
        drop(conn);
        for item in *items {
            let (event_name, venue, city, time_zone, days, section, row, price) = *item;
            let starts_at = local_evening(now, days, time_zone)?;
            let ticket = match existing.iter().find(|ticket| ticket.event_name == event_name) {
                Some(ticket) if ticket.file_key.is_some() => continue,
                Some(ticket) => ticket.clone(),
                None => {
                    let input = DraftInput {
                        event_name,
                        venue,
                        city,
                        starts_at: &starts_at,
                        time_zone,
                        section: Some(section),
                        row: Some(row),
                        seat: None,
                        face_value: price,
                        price,
                        currency: None,
                    };
                    let draft = TicketDraft::parse(input, state.config.price_cap, now)
                        .map_err(|err| anyhow::anyhow!("demo listing {event_name}: {err:?}"))?;
                    listings::create(&state.pool, seller_id, &draft, now).await?
                }
            };
            let file = ticket_pdf(event_name, venue, &starts_at, section, row);
            ticket_files::attach(&state.pool, &*state.files, seller_id, ticket.id, &file, Some("application/pdf"), now)
                .await?;
            added += 1;
        }
    }
    Ok(Seeded::Market { sellers, listings: added })
}

/// The demo seller `email`, registered unless an earlier run did; and whether this run did.
async fn demo_seller(state: &AppState, email: &str, now: DateTime<Utc>) -> anyhow::Result<(Uuid, bool)> {
    let address = EmailAddress::parse(email).map_err(|err| anyhow::anyhow!("{err:?}"))?;
    if let Some(seller) = accounts::find_by_email(&state.pool, &address).await? {
        return Ok((seller.id, false));
    }
    let registration = Registration::parse(email, PASSWORD, true).map_err(|err| anyhow::anyhow!("{err:?}"))?;
    let (seller, _session) = accounts::register(&state.pool, registration, now, state.config.sessions).await?;
    Ok((seller.id, true))
}

/// 19:30 at the venue, `days` after `now`, as the listing form writes it (`2027-01-14T19:30`).
fn local_evening(now: DateTime<Utc>, days: i64, time_zone: &str) -> anyhow::Result<String> {
    let zone: chrono_tz::Tz = time_zone.parse().map_err(|_| anyhow::anyhow!("unknown time zone {time_zone}"))?;
    let day = (now + TimeDelta::days(days)).with_timezone(&zone).date_naive();
    Ok(format!("{}T19:30", day.format("%Y-%m-%d")))
}

/// A one-page PDF that reads as the ticket: the event, where, when and the seat.
fn ticket_pdf(event: &str, venue: &str, starts_at: &str, section: &str, row: &str) -> Vec<u8> {
    // PDF strings escape their delimiters; the text is the demo's own, in Latin-1 where it is not ASCII.
    let text = |line: &str| -> String {
        line.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c if c.is_ascii() => c.to_string(),
                c if (c as u32) < 256 => format!("\\{:03o}", c as u32),
                _ => "?".to_owned(),
            })
            .collect()
    };
    let lines = [
        (28, format!("Ticket Exchange - {}", text(event))),
        (16, text(venue)),
        (16, starts_at.replace('T', " at ")),
        (16, format!("Section {} - Row {}", text(section), text(row))),
    ];
    let mut content = String::from("BT /F1 28 Tf 72 720 Td ");
    for (i, (size, line)) in lines.iter().enumerate() {
        if i > 0 {
            content.push_str(&format!("/F1 {size} Tf 0 -40 Td "));
        }
        content.push_str(&format!("({line}) Tj "));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_file_is_a_whole_pdf_whose_table_points_at_its_objects() {
        let pdf = ticket_pdf("Circus (late show)", "Place des Arts", "2027-01-14T19:30", "Parterre", "H");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Ticket Exchange - Circus \\(late show\\)) Tj"), "{text}");
        let xref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|rest| rest.lines().next())
            .expect("startxref")
            .parse()
            .expect("an offset");
        assert!(text[xref..].starts_with("xref\n0 6\n"));
        for (i, line) in text[xref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().expect("an offset");
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {} at {offset}", i + 1);
        }
        assert_eq!(
            ticket_files::FileKind::Pdf,
            ticket_files::content::identify(&pdf, Some("application/pdf")).expect("a PDF")
        );
    }

    #[test]
    fn events_start_in_the_evening_at_their_venue() {
        let now = "2026-12-02T04:00:00Z".parse().expect("a time");
        assert_eq!(local_evening(now, 12, "America/Vancouver").expect("a zone"), "2026-12-13T19:30");
        assert_eq!(local_evening(now, 12, "America/Toronto").expect("a zone"), "2026-12-13T19:30");
    }
}
